package dev.arat.evaluator.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.attack.GradientClassifier;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Permutations;
import dev.arat.data.Split;
import dev.arat.evaluator.Fixtures;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.SpecException;
import dev.arat.specs.Specs;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The suite runner and the report on a plain-Java model (no ONNX Runtime). */
public class SuiteRunnerTest {
  static final String SUITE =
      String.join(
          "\n",
          "name: unit",
          "data: {dataset: synthetic}",
          "samples: 40",
          "seed: 3",
          "batch_size: 16",
          "threat_model: {norm: Linf, epsilon: 0.12}",
          "attacks:",
          "  - type: fgsm",
          "  - type: pgd",
          "    steps: 10",
          "gates: {min_clean_accuracy: 0.5, min_robust_accuracy: 0.99}",
          "");

  public static Report runJava(EvaluationSuite suite, PrintStream progress) {
    ImageDataset test = Datasets.load("synthetic", null, Split.TEST);
    GradientClassifier m = Fixtures.java(Fixtures.syntheticNearestMean());
    Report.ModelInfo info =
        new Report.ModelInfo(
            "java:nearest-mean", "0".repeat(64), Map.of("k", "v"), List.of(-1L, 1L, 28L, 28L), 10);
    return new SuiteRunner(1, progress, false)
        .evaluate(m, m, info, List::of, suite, test, null, null, System.nanoTime());
  }

  @Test
  void reportHasEveryFieldAndRoundTrips(@TempDir Path dir) throws Exception {
    EvaluationSuite suite = Specs.parse(SUITE, EvaluationSuite.class, "unit.yaml");
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    Report r = runJava(suite, new PrintStream(log, true, StandardCharsets.UTF_8));

    assertEquals(40, r.samples());
    assertEquals(List.of(Permutations.firstOf(512, 40, 3)).size(), 1);
    int[] expected = Permutations.firstOf(512, 40, 3);
    for (int i = 0; i < 40; i++) {
      assertEquals(expected[i], r.sampleIndices().get(i));
      assertEquals(expected[i], r.perSample().get(i).index());
    }
    assertTrue(
        r.cleanAccuracy() > 0.9, "nearest mean should be accurate, was " + r.cleanAccuracy());
    assertTrue(r.robustAccuracy() <= r.cleanAccuracy());
    assertTrue(r.robustAccuracy() < r.cleanAccuracy(), "eps 0.12 should break some samples");
    assertTrue(r.trusted());
    assertEquals(2, r.attacks().size());
    assertTrue(
        r.attacks().get(1).robustAccuracyAfter() <= r.attacks().get(0).robustAccuracyAfter());
    assertEquals(
        "arat (own Java implementation)", r.attacks().get(1).settings().get("implementation"));
    assertEquals(0.03, (double) r.attacks().get(1).settings().get("step_size"), 1e-12);
    assertTrue(r.maxPerturbation().linf() <= 0.12 * (1 + 1e-4));
    assertTrue(r.gate("min_clean_accuracy").passed());
    assertFalse(r.gate("min_robust_accuracy").passed());
    assertFalse(r.passed());
    assertTrue(
        r.cleanAccuracyCi95().low() <= r.cleanAccuracy()
            && r.cleanAccuracy() <= r.cleanAccuracyCi95().high());
    String out = log.toString(StandardCharsets.UTF_8);
    assertTrue(out.contains("[1] fgsm-ce") && out.contains("[2] pgd-10-ce"), out);

    Path json = ReportFiles.writeJson(r, dir);
    Path md = ReportFiles.writeMarkdown(r, dir);
    JsonNode tree = Specs.json().readTree(Files.readString(json));
    for (String f :
        List.of(
            "schema_version",
            "tool",
            "model",
            "suite",
            "dataset",
            "samples",
            "sample_indices",
            "seed",
            "threat_model",
            "clean_accuracy",
            "clean_accuracy_ci95",
            "robust_accuracy",
            "robust_accuracy_ci95",
            "attacks",
            "violations",
            "max_perturbation",
            "per_sample",
            "gates",
            "trusted",
            "passed",
            "diagnostics",
            "duration_seconds")) {
      assertTrue(tree.has(f), "report.json lacks " + f);
    }
    assertEquals("Linf", tree.get("threat_model").get("norm").asText());
    assertEquals(
        "pgd", tree.get("suite").get("settings").get("attacks").get(1).get("type").asText());
    assertTrue(
        tree.get("dataset").get("samples_sha256").asText().matches("[0-9a-f]{64}"),
        "samples_sha256 must be a SHA-256 in hex: " + tree.get("dataset").get("samples_sha256"));
    JsonNode a = tree.get("attacks").get(1);
    for (String f : List.of("name", "settings", "robust_accuracy_after", "successes", "seconds")) {
      assertTrue(a.has(f), "attack entry lacks " + f);
    }
    JsonNode s = tree.get("per_sample").get(0);
    for (String f :
        List.of("index", "label", "clean_pred", "robust", "iteration", "linf", "l2", "margin")) {
      assertTrue(s.has(f), "per-sample entry lacks " + f);
    }
    Report back = ReportFiles.readJson(Files.readString(json));
    assertEquals(ReportFiles.toJson(r), ReportFiles.toJson(back));
    assertEquals(r.perSample(), back.perSample());

    String text = Files.readString(md);
    assertTrue(text.contains("❌"), text);
    assertTrue(text.contains("✅"), text);
    assertTrue(text.contains("robust accuracy"), text);
  }

  @Test
  void deterministicAndIndependentOfBatchSize() {
    EvaluationSuite suite = Specs.parse(SUITE, EvaluationSuite.class, "unit.yaml");
    Report a = runJava(suite, null);
    Report b =
        runJava(
            new EvaluationSuite(
                suite.name(),
                suite.data(),
                suite.samples(),
                suite.seed(),
                7,
                suite.threatModel(),
                suite.attacks(),
                suite.gates()),
            null);
    assertEquals(a.perSample(), b.perSample());
    assertEquals(a.robustCount(), b.robustCount());
  }

  @Test
  void dlrOnTwoClassesIsASpecError() {
    EvaluationSuite suite =
        Specs.parse(
            SUITE.replace("  - type: fgsm", "  - type: fgsm\n    loss: dlr"),
            EvaluationSuite.class,
            "unit.yaml");
    SpecException e = assertThrows(SpecException.class, () -> SuiteAttacks.build(suite, 2));
    assertTrue(e.getMessage().startsWith("attacks[0].loss"), e.getMessage());
  }
}
