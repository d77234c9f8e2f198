package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Split;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.specs.Npy;
import dev.arat.specs.Specs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code arat evaluate --data x.npy --labels y.npy} saves the adversarial examples; {@code arat
 * replay} re-scores them: 0% on the model they were made on, the transfer accuracy on another.
 */
class ReplayCommandTest {
  static final int N = 60;

  /** A random linear classifier 1x28x28 -> 10 with weights from {@code seed}. */
  static float[] weights(long seed) {
    float[] w = new float[10 * 784];
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (0.05 * r.nextGaussian());
    }
    return w;
  }

  static Path model(Path file, float[] w) {
    GraphBuilder g = new GraphBuilder("linear");
    String x = g.imageInput("input", 1, 28, 28);
    String flat = g.node(Op.FLATTEN, List.of(x), Map.of("axis", 1L));
    String z =
        g.node(
            Op.GEMM,
            List.of(
                flat,
                g.floatInitializer("w", w, 10, 784),
                g.floatInitializer("b", new float[10], 10)),
            Map.of("transB", 1L));
    g.output(z, "logits", Tensors.FLOAT, "N", 10);
    OnnxModels.save(g.build(17), file);
    return file;
  }

  static int argmax(float[] w, float[] x, int off) {
    int best = 0;
    double bestZ = Double.NEGATIVE_INFINITY;
    for (int c = 0; c < 10; c++) {
      double s = 0;
      for (int j = 0; j < 784; j++) {
        s += (double) w[c * 784 + j] * x[off + j];
      }
      if (s > bestZ) {
        bestZ = s;
        best = c;
      }
    }
    return best;
  }

  @Test
  void evaluateSavesExamplesAndReplayScoresThemOnAnyModel(@TempDir Path dir) throws Exception {
    float[] wa = weights(1);
    float[] wb = weights(2);
    Path a = model(dir.resolve("a.onnx"), wa);
    Path b = model(dir.resolve("b.onnx"), wb);
    // the test set: synthetic images labelled by model a (so it is clean-correct on all of them)
    ImageDataset t = Datasets.load("synthetic", null, Split.TEST);
    float[] x = java.util.Arrays.copyOf(t.pixels(), N * 784);
    long[] y = new long[N];
    for (int i = 0; i < N; i++) {
      y[i] = argmax(wa, x, i * 784);
    }
    Npy.writeFloat32(dir.resolve("x.npy"), x, N, 1, 28, 28);
    Npy.writeInt64(dir.resolve("y.npy"), y, N);
    Files.writeString(
        dir.resolve("suite.yaml"),
        String.join(
            "\n",
            "name: replay",
            "samples: " + N,
            "threat_model: {norm: Linf, epsilon: 0.05}",
            "attacks: [{type: fgsm}]",
            ""));

    CliRun noLabels =
        CliRun.quiet(
            "evaluate",
            "--model",
            a.toString(),
            "--suite",
            dir.resolve("suite.yaml").toString(),
            "--data",
            dir.resolve("x.npy").toString(),
            "--out",
            dir.resolve("out").toString());
    assertEquals(ExitCodes.INPUT_ERROR, noLabels.code());
    assertTrue(noLabels.err().contains("give its labels with --labels Y.npy"), noLabels.err());

    CliRun ev =
        CliRun.quiet(
            "evaluate",
            "--model",
            a.toString(),
            "--suite",
            dir.resolve("suite.yaml").toString(),
            "--data",
            dir.resolve("x.npy").toString(),
            "--labels",
            dir.resolve("y.npy").toString(),
            "--out",
            dir.resolve("out").toString(),
            "--threads",
            "1");
    assertEquals(ExitCodes.OK, ev.code(), ev.out() + ev.err());
    assertTrue(ev.out().contains("adversarial examples: "), ev.out());
    JsonNode report = Specs.json().readTree(dir.resolve("out/report.json").toFile());
    assertEquals("npy", report.path("dataset").path("source").path("kind").asText());
    assertEquals(1.0, report.path("clean_accuracy").asDouble());
    int broken = N - report.path("robust_count").asInt();
    assertTrue(broken > 0, "eps 0.05 should break some samples");

    CliRun same =
        CliRun.quiet(
            "replay",
            a.toString(),
            "--adversarial",
            dir.resolve("out").toString(),
            "--threads",
            "1");
    assertEquals(ExitCodes.OK, same.code(), same.out() + same.err());
    assertTrue(same.out().contains(broken + " adversarial example(s)"), same.out());
    assertTrue(same.out().contains("accuracy on them    0.00%"), same.out());
    assertTrue(
        same.out().contains("same prediction as the original model on " + broken + " of " + broken),
        same.out());

    // on model b: its accuracy on the examples, computed here in plain Java
    Npy.NpyArray adv = Npy.read(dir.resolve("out/adversarial.npy"));
    Npy.NpyArray labels = Npy.read(dir.resolve("out/adversarial_labels.npy"));
    int correct = 0;
    for (int i = 0; i < broken; i++) {
      correct += argmax(wb, adv.floats(), i * 784) == labels.longAt(i) ? 1 : 0;
    }
    Path json = dir.resolve("replay.json");
    CliRun other =
        CliRun.quiet(
            "replay",
            b.toString(),
            "--adversarial",
            dir.resolve("out/adversarial.npy").toString(),
            "--out",
            json.toString(),
            "--min-accuracy",
            "1",
            "--threads",
            "1");
    assertEquals(
        correct == broken ? ExitCodes.OK : ExitCodes.GATE_FAILED,
        other.code(),
        other.out() + other.err());
    JsonNode r = Specs.json().readTree(json.toFile());
    assertEquals(correct, r.path("correct").asInt());
    assertEquals(broken, r.path("per_sample").size());
    assertEquals((double) correct / broken, r.path("accuracy").asDouble(), 1e-12);

    CliRun missing =
        CliRun.quiet("replay", a.toString(), "--adversarial", dir.resolve("nothing").toString());
    assertEquals(ExitCodes.INPUT_ERROR, missing.code());
    assertTrue(missing.err().contains("no adversarial examples at"), missing.err());
    Files.delete(dir.resolve("out/adversarial_labels.npy"));
    CliRun noCompanion =
        CliRun.quiet("replay", a.toString(), "--adversarial", dir.resolve("out").toString());
    assertEquals(ExitCodes.INPUT_ERROR, noCompanion.code());
    assertTrue(noCompanion.err().contains("expected adversarial_labels.npy"), noCompanion.err());
  }

  /**
   * {@code --normalization-mean/--normalization-std}: the byo fixture exported without its
   * normalisation scores the examples exactly like the reference export that normalises inside.
   */
  @Test
  void replayNormalizesAModelExportedWithout(@TempDir Path dir) throws Exception {
    Path byo = Path.of("../evaluator/src/test/resources/byo");
    assertTrue(
        Files.isRegularFile(byo.resolve("no-norm.onnx")),
        "the evaluator's byo fixtures, from " + byo.toAbsolutePath());
    ImageDataset t = Datasets.load("synthetic", null, Split.TEST);
    float[] x = java.util.Arrays.copyOf(t.pixels(), N * 784);
    long[] y = new long[N];
    for (int i = 0; i < N; i++) {
      y[i] = t.labels()[i];
    }
    Path images = dir.resolve("adversarial.npy");
    Npy.writeFloat32(images, x, N, 1, 28, 28);
    Npy.writeInt64(dir.resolve("adversarial_labels.npy"), y, N);
    JsonNode ref = replay(dir, byo.resolve("reference.onnx"), "ref");
    JsonNode norm =
        replay(
            dir,
            byo.resolve("no-norm.onnx"),
            "norm",
            "--normalization-mean",
            "0.2860",
            "--normalization-std",
            "0.3530");
    JsonNode raw = replay(dir, byo.resolve("no-norm.onnx"), "raw");
    assertEquals(ref.path("correct").asInt(), norm.path("correct").asInt());
    assertTrue(
        ref.path("correct").asInt() > 0, "the fixture should classify some synthetic images");
    for (int i = 0; i < N; i++) {
      assertEquals(
          ref.path("per_sample").get(i).path("prediction").asInt(),
          norm.path("per_sample").get(i).path("prediction").asInt(),
          "example " + i);
    }
    assertTrue(
        !ref.path("per_sample").equals(raw.path("per_sample")),
        "raw pixels should change some predictions");
    CliRun half =
        CliRun.quiet(
            "replay",
            byo.resolve("no-norm.onnx").toString(),
            "--adversarial",
            images.toString(),
            "--normalization-mean",
            "0.2860");
    assertEquals(ExitCodes.INPUT_ERROR, half.code());
    assertTrue(
        half.err().contains("--normalization-mean and --normalization-std go together"),
        half.err());
  }

  static JsonNode replay(Path dir, Path model, String name, String... more) throws Exception {
    Path json = dir.resolve(name + ".json");
    List<String> args =
        new java.util.ArrayList<>(
            List.of(
                "replay",
                model.toString(),
                "--adversarial",
                dir.resolve("adversarial.npy").toString(),
                "--threads",
                "1",
                "--out",
                json.toString()));
    args.addAll(List.of(more));
    CliRun r = CliRun.quiet(args.toArray(String[]::new));
    assertEquals(ExitCodes.OK, r.code(), r.out() + r.err());
    return Specs.json().readTree(json.toFile());
  }
}
