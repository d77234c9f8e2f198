package dev.arat.evaluator.ort;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Split;
import dev.arat.evaluator.Fixtures;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.run.SuiteRunner;
import dev.arat.evaluator.run.SuiteRunnerTest;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.LossHead;
import dev.arat.specs.Specs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** End to end through ONNX Runtime on small ONNX classifiers built with the onnx module. */
public class OrtEndToEndTest {
  public static Path save(ModelProto m, Path dir, String name) {
    Path p = dir.resolve(name);
    OnnxModels.save(m, p);
    return p;
  }

  static ImageBatch someImages(int n) {
    ImageDataset test = Datasets.load("synthetic", null, Split.TEST);
    int[] idx = new int[n];
    for (int i = 0; i < n; i++) {
      idx[i] = 3 * i;
    }
    return new ImageBatch(test.gatherPixels(idx), n, 1, 28, 28);
  }

  @ParameterizedTest
  @EnumSource(
      value = LossHead.class,
      names = {"CE", "MARGIN", "DLR"})
  void ortGradientsMatchJavaReference(LossHead head) {
    dev.arat.onnx.testsupport.LinearModel lin = Fixtures.syntheticNearestMean();
    GradientClassifier ref = Fixtures.java(lin);
    ImageBatch x = someImages(6);
    int[] y = {0, 1, 2, 3, 4, 5};
    LossGradient want = ref.lossGradient(x, y, null, head);
    try (OrtClassifier ort =
        new OrtClassifier(Fixtures.onnx(lin, true, false), "conv-relu fixture", 1)) {
      assertEquals(10, ort.numClasses());
      LossGradient got = ort.lossGradient(x, y, null, head);
      assertArrayEquals(want.logits(), got.logits(), 1e-3f);
      assertArrayEquals(want.losses(), got.losses(), 1e-3f);
      float scale = 0;
      for (float v : want.gradient()) {
        scale = Math.max(scale, Math.abs(v));
      }
      assertArrayEquals(want.gradient(), got.gradient(), 1e-3f * Math.max(scale, 1e-3f));
      assertArrayEquals(ref.logits(x), ort.logits(x), 1e-3f);
    }
  }

  @Test
  void suiteThroughOrt(@TempDir Path dir) {
    Path file =
        save(Fixtures.onnx(Fixtures.syntheticNearestMean(), true, false), dir, "model.onnx");
    String base =
        String.join(
            "\n",
            "name: e2e",
            "data: {dataset: synthetic}",
            "samples: 48",
            "seed: 5",
            "batch_size: 16",
            "threat_model: {norm: Linf, epsilon: 0.12}",
            "attacks:",
            "");
    EvaluationSuite fgsm =
        Specs.parse(base + "  - type: fgsm\n", EvaluationSuite.class, "fgsm.yaml");
    EvaluationSuite pgd =
        Specs.parse(base + "  - type: pgd\n    steps: 10\n", EvaluationSuite.class, "pgd.yaml");
    EvaluationSuite both =
        Specs.parse(
            base + "  - type: fgsm\n  - type: pgd\n    steps: 10\n",
            EvaluationSuite.class,
            "both.yaml");
    SuiteRunner runner = new SuiteRunner(1, null, false);
    Report rf = runner.run(file, fgsm, null);
    Report rp = runner.run(file, pgd, null);
    Report rb = runner.run(file, both, null);
    assertTrue(rf.cleanAccuracy() > 0.9);
    assertTrue(rb.robustAccuracy() <= rb.cleanAccuracy());
    assertTrue(
        rp.robustAccuracy() <= rf.robustAccuracy(),
        "PGD " + rp.robustAccuracy() + " should beat or equal FGSM " + rf.robustAccuracy());
    assertTrue(rp.robustAccuracy() < rp.cleanAccuracy(), "eps 0.12 should break some samples");
    assertTrue(rb.trusted());
    assertEquals(64, rb.model().sha256().length());
    assertEquals("fixture", rb.model().metadata().get("arat.test"));
    assertTrue(rb.tool().onnxruntime() != null);

    // a transfer attack from a surrogate file runs through the file-based runner
    EvaluationSuite transfer =
        Specs.parse(
            base
                + "  - {type: transfer, surrogate: '"
                + file.toString().replace("'", "''")
                + "', attack: {type: pgd, steps: 10}}\n",
            EvaluationSuite.class,
            "transfer.yaml");
    Report rt = runner.run(file, transfer, null);
    assertTrue(
        rt.robustAccuracy() < rt.cleanAccuracy(), "transfer from the model itself breaks some");
    assertTrue(rt.robustCount() >= rp.robustCount(), "and is no stronger than PGD on the model");

    // the same suite on the plain-Java twin agrees up to borderline float differences
    Report java = SuiteRunnerTest.runJava(both, null);
    assertEquals(java.cleanCorrect(), rb.cleanCorrect());
    assertTrue(
        Math.abs(java.robustCount() - rb.robustCount()) <= 1,
        "java " + java.robustCount() + " vs ORT " + rb.robustCount());
  }

  @Test
  void softmaxOutputIsCutWithADiagnostic() {
    dev.arat.onnx.testsupport.LinearModel lin = Fixtures.syntheticNearestMean();
    ImageBatch x = someImages(3);
    try (OrtClassifier ort =
        new OrtClassifier(Fixtures.onnx(lin, false, true), "softmax fixture", 1)) {
      assertArrayEquals(Fixtures.java(lin).logits(x), ort.logits(x), 1e-3f);
      assertTrue(
          ort.diagnostics().stream()
              .anyMatch(d -> d.name().equals("softmax-output") && d.code().equals("ARAT-D002")),
          ort.diagnostics().toString());
      LossGradient g = ort.lossGradient(x, new int[] {0, 1, 2}, null, LossHead.CE);
      assertEquals(3 * 784, g.gradient().length);
    }
  }

  @Test
  void truncatedFileIsATypedError(@TempDir Path dir) throws Exception {
    Path good =
        save(Fixtures.onnx(Fixtures.syntheticNearestMean(), false, false), dir, "good.onnx");
    byte[] bytes = Files.readAllBytes(good);
    Path bad = dir.resolve("truncated.onnx");
    Files.write(bad, java.util.Arrays.copyOf(bytes, bytes.length / 2));
    OnnxModelException e = assertThrows(OnnxModelException.class, () -> OrtClassifier.open(bad, 1));
    assertTrue(e.getMessage().contains("truncated.onnx"), e.getMessage());
    EvaluationSuite s =
        Specs.parse(
            String.join(
                "\n",
                "data: {dataset: synthetic}",
                "samples: 4",
                "threat_model: {norm: Linf, epsilon: 0.1}",
                "attacks: [{type: fgsm}]",
                ""),
            EvaluationSuite.class,
            "s.yaml");
    assertThrows(OnnxModelException.class, () -> new SuiteRunner(1, null, false).run(bad, s, null));
  }

  @Test
  void wrongGeometryAndUseAfterClose() {
    dev.arat.onnx.testsupport.LinearModel lin = Fixtures.syntheticNearestMean();
    OrtClassifier ort = new OrtClassifier(Fixtures.onnx(lin, false, false), "fixture", 1);
    ImageBatch wrong = new ImageBatch(new float[2 * 3 * 28 * 28], 2, 3, 28, 28);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ort.logits(wrong));
    assertTrue(e.getMessage().contains("1x28x28"), e.getMessage());
    ort.close();
    ort.close();
    assertThrows(IllegalStateException.class, () -> ort.logits(someImages(1)));
  }
}
