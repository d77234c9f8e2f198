package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Split;
import dev.arat.deploy.QuantizationMetadata;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.LossHead;
import dev.arat.specs.Specs;
import dev.arat.trainer.TrainedNetwork;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole pipeline through the CLI on synthetic data: train ARAT, export with parity, evaluate
 * with gates, and the documented exit codes for bad input.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PipelineTest {
  @TempDir static Path dir;
  static Path run;
  static Path recipe;
  static Path suite;

  static final String RECIPE =
      String.join(
          "\n",
          "method: arat",
          "seed: 1",
          "data: {dataset: synthetic, train_samples: 384, test_samples: 128}",
          "epochs: 1",
          "batch_size: 64",
          "optimizer: {lr: 0.05}",
          "schedule: {type: constant}",
          "attack: {norm: Linf, epsilon: 0.1, step_size: 0.04, steps: 2}",
          "arat: {gamma: 4.0, balance_interval: 128, balance_samples: 128}",
          "evaluation: {samples: 64, pgd_steps: 3}",
          "");

  static final String SUITE =
      String.join(
          "\n",
          "name: synthetic-ci",
          "data: {dataset: synthetic}",
          "samples: 96",
          "seed: 2",
          "batch_size: 48",
          "threat_model: {norm: Linf, epsilon: 0.05}",
          "attacks:",
          "  - type: fgsm",
          "  - {type: pgd, steps: 5, step_size: 0.02}",
          "gates: {min_clean_accuracy: 0.2}",
          "");

  @BeforeAll
  static void files() throws Exception {
    run = dir.resolve("run");
    recipe = dir.resolve("recipe.yaml");
    suite = dir.resolve("suite.yaml");
    Files.writeString(recipe, RECIPE);
    Files.writeString(suite, SUITE);
  }

  @Test
  @Order(1)
  void trainWritesMetricsAndCheckpoint() throws Exception {
    CliRun r = CliRun.arat("-q", "train", "--recipe", recipe.toString(), "--out", run.toString());
    assertEquals(0, r.code(), r.err());
    List<String> lines = Files.readAllLines(run.resolve("metrics.jsonl"));
    assertEquals(1, lines.size());
    JsonNode m = Specs.json().readTree(lines.get(0));
    for (String f :
        List.of(
            "epoch",
            "loss_ce_adv",
            "loss_ce_clean",
            "loss_inv",
            "clean_accuracy_adv_bn",
            "clean_accuracy_clean_bn",
            "pgd_accuracy")) {
      assertTrue(m.has(f), "metrics lacks " + f + ": " + m);
    }
    assertTrue(Checkpoint.latest(run).isPresent());
    assertTrue(Files.exists(run.resolve("recipe.yaml")));
  }

  @Test
  @Order(2)
  void exportProvesParity() {
    CliRun r = CliRun.arat("export", "--checkpoint", run.toString(), "--parity-samples", "64");
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue(r.out().contains("parity on 64 images"), r.out());
    assertTrue(r.out().contains("OK"), r.out());
    assertTrue(Files.exists(run.resolve("model.onnx")));
  }

  @Test
  @Order(2)
  void exportWritesQuantizedVariants() throws Exception {
    Path q = Files.createDirectories(dir.resolve("export-q"));
    Path file = q.resolve("model.onnx");
    CliRun r =
        CliRun.arat(
            "export",
            "--checkpoint",
            run.toString(),
            "--out",
            file.toString(),
            "--precision",
            "int8",
            "--calibration",
            "percentile",
            "--calibration-samples",
            "32",
            "--parity-samples",
            "32");
    assertEquals(0, r.code(), r.err() + r.out());
    Path int8 = q.resolve("model.int8-percentile.onnx");
    Map<String, String> meta = QuantizationMetadata.of(OnnxModels.load(int8));
    assertEquals("int8", meta.get(QuantizationMetadata.PRECISION));
    assertEquals("percentile:99.99", meta.get(QuantizationMetadata.CALIBRATION));
    assertEquals("32", meta.get(QuantizationMetadata.CALIBRATION_SAMPLES));
    assertTrue(
        meta.get(QuantizationMetadata.CALIBRATION_SOURCE).contains("train"), meta.toString());
    assertEquals(dev.arat.specs.Sha256.ofFile(file), meta.get(QuantizationMetadata.PARENT_SHA256));
    assertTrue(Files.exists(q.resolve("model.int8-percentile.parity.json")), r.out());

    r =
        CliRun.arat(
            "export",
            "--checkpoint",
            run.toString(),
            "--out",
            file.toString(),
            "--precision",
            "fp16",
            "--parity-samples",
            "32");
    assertEquals(0, r.code(), r.err() + r.out());
    assertEquals(
        "fp16",
        QuantizationMetadata.of(OnnxModels.load(q.resolve("model.fp16.onnx")))
            .get(QuantizationMetadata.PRECISION));

    r =
        CliRun.arat(
            "export",
            "--checkpoint",
            run.toString(),
            "--out",
            q.resolve("x.onnx").toString(),
            "--precision",
            "int4");
    assertEquals(2, r.code(), r.err() + r.out());
    assertTrue(r.err().contains("expected fp32, fp16 or int8"), r.err());
    assertFalse(Files.exists(q.resolve("x.onnx")), "a refused export must write nothing");
  }

  @Test
  @Order(3)
  void onnxGradientAgreesWithDjlAutograd() {
    Checkpoint ck = Checkpoint.read(run);
    ImageDataset test = Datasets.load("synthetic", null, Split.TEST);
    int[] idx = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    ImageBatch x = new ImageBatch(test.gatherPixels(idx), idx.length, 1, 28, 28);
    int[] y = test.gatherLabels(idx);
    try (TrainedNetwork djl = new TrainedNetwork(ck);
        OrtClassifier ort = OrtClassifier.open(run.resolve("model.onnx"))) {
      LossGradient a = djl.lossGradient(x, y, null, LossHead.CE);
      LossGradient b = ort.lossGradient(x, y, null, LossHead.CE);
      double num = 0;
      double den = 0;
      for (int i = 0; i < a.gradient().length; i++) {
        double d = a.gradient()[i] - b.gradient()[i];
        num += d * d;
        den += (double) a.gradient()[i] * a.gradient()[i];
      }
      assertTrue(den > 0, "DJL gradient is zero");
      double rel = Math.sqrt(num / den);
      assertTrue(rel <= 1e-3, "relative gradient error " + rel);
      for (int i = 0; i < a.losses().length; i++) {
        assertEquals(a.losses()[i], b.losses()[i], 1e-4 * Math.max(1, Math.abs(a.losses()[i])));
      }
    }
  }

  @Test
  @Order(4)
  void evaluateWritesReportsAndGates() throws Exception {
    Path eval = dir.resolve("eval");
    CliRun r =
        CliRun.arat(
            "-q",
            "evaluate",
            "--model",
            run.resolve("model.onnx").toString(),
            "--suite",
            suite.toString(),
            "--out",
            eval.toString());
    assertEquals(0, r.code(), r.err() + r.out());
    JsonNode rep = Specs.json().readTree(eval.resolve("report.json").toFile());
    assertEquals(96, rep.get("samples").asInt());
    assertEquals(96, rep.get("sample_indices").size());
    assertEquals(2, rep.get("attacks").size());
    assertTrue(rep.get("robust_accuracy").asDouble() <= rep.get("clean_accuracy").asDouble());
    assertTrue(rep.get("attacks").get(1).has("robust_accuracy_after"));
    assertTrue(rep.get("gates").get(0).get("passed").asBoolean());
    assertEquals("arat", rep.get("model").get("metadata").get("arat.training_method").asText());
    assertTrue(Files.readString(eval.resolve("report.md")).contains("synthetic-ci"));

    r =
        CliRun.arat(
            "-q",
            "evaluate",
            "--model",
            run.resolve("model.onnx").toString(),
            "--suite",
            suite.toString(),
            "--out",
            eval.toString(),
            "--min-robust-accuracy",
            "0.999");
    assertEquals(1, r.code(), r.err() + r.out());
    assertTrue(r.out().contains("FAILED"), r.out());
  }

  @Test
  @Order(4)
  void builtinProfileTakesTheDatasetFromTheModelMetadata() throws Exception {
    Path eval = dir.resolve("eval-quick");
    CliRun r =
        CliRun.arat(
            "-q",
            "evaluate",
            "--model",
            run.resolve("model.onnx").toString(),
            "--suite",
            "quick",
            "--samples",
            "40",
            "--out",
            eval.toString());
    assertTrue(r.code() == 0 || r.code() == 1, r.err() + r.out());
    JsonNode rep = Specs.json().readTree(eval.resolve("report.json").toFile());
    assertEquals("synthetic", rep.get("dataset").get("name").asText());
    assertEquals(40, rep.get("samples").asInt());
  }

  @Test
  @Order(5)
  void badInputsExitTwoWithAMessage() throws Exception {
    Path bad = dir.resolve("bad-suite.yaml");
    Files.writeString(bad, SUITE + "colour: blue\n");
    CliRun r =
        CliRun.arat(
            "evaluate", "--model", run.resolve("model.onnx").toString(), "--suite", bad.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("unknown key 'colour'"), r.err());

    Path truncated = dir.resolve("truncated.onnx");
    byte[] all = Files.readAllBytes(run.resolve("model.onnx"));
    Files.write(truncated, Arrays.copyOf(all, all.length / 2));
    r = CliRun.arat("evaluate", "--model", truncated.toString(), "--suite", suite.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().startsWith("arat: "), r.err());
    assertFalse(r.err().contains("\tat "), "no stack trace without --stacktrace: " + r.err());

    Path badRecipe = dir.resolve("bad-recipe.yaml");
    Files.writeString(badRecipe, RECIPE.replace("epochs: 1", "epochs: -1"));
    r =
        CliRun.arat(
            "train", "--recipe", badRecipe.toString(), "--out", dir.resolve("x").toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("epochs: must be > 0, was -1"), r.err());

    r =
        CliRun.arat(
            "train",
            "--recipe",
            recipe.toString(),
            "--out",
            dir.resolve("empty").toString(),
            "--resume");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("no checkpoint"), r.err());

    r =
        CliRun.arat(
            "train",
            "--recipe",
            recipe.toString(),
            "--out",
            dir.resolve("y").toString(),
            "--set",
            "arat.gama=3");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("unknown key 'gama'"), r.err());
  }

  @Test
  @Order(6)
  void killedRunResumesWithEachEpochOnce() throws Exception {
    Path killed = dir.resolve("killed");
    // A child JVM trains 3 epochs; it is killed (SIGKILL, no chance to clean up) once the first
    // checkpoint exists, then the run is resumed here.
    ProcessBuilder pb =
        new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp",
            System.getProperty("java.class.path"),
            "dev.arat.cli.Arat",
            "-q",
            "train",
            "--recipe",
            recipe.toString(),
            "--out",
            killed.toString(),
            "--epochs",
            "3");
    pb.environment().put("DJL_OFFLINE", "true");
    pb.redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile());
    Process child = pb.start();
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (Checkpoint.latest(killed).isEmpty() && child.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertTrue(
        Checkpoint.latest(killed).isPresent(),
        "no checkpoint: " + Files.readString(dir.resolve("child.log")));
    child.destroyForcibly().waitFor();
    int before = Checkpoint.read(killed).state().epoch();
    assertTrue(before < 3, "the child finished before it could be killed");

    CliRun r =
        CliRun.arat(
            "-q",
            "train",
            "--recipe",
            recipe.toString(),
            "--out",
            killed.toString(),
            "--epochs",
            "3",
            "--resume");
    assertEquals(0, r.code(), r.err());
    List<Integer> epochs =
        Files.readAllLines(killed.resolve("metrics.jsonl")).stream()
            .map(
                l -> {
                  try {
                    return Specs.json().readTree(l).get("epoch").asInt();
                  } catch (Exception e) {
                    throw new AssertionError(e);
                  }
                })
            .toList();
    assertEquals(List.of(1, 2, 3), epochs);
  }
}
