package dev.arat.evaluator.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Split;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.evaluator.ort.RuntimeOptions;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.LossHead;
import dev.arat.specs.SpecException;
import dev.arat.specs.Specs;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Models brought by users (issue 10 §1): one small CNN exported the ways PyTorch/TF users export
 * (fixtures and their generator in {@code src/test/resources/byo/}). Every variant computes the
 * reference's function in pixel space, so arat must give the reference's logits, gradients and
 * per-sample verdicts on each.
 */
class ByoModelsTest {
  static final String SUITE =
      String.join(
          "\n",
          "name: byo",
          "data: {dataset: synthetic}",
          "samples: 45",
          "seed: 1",
          "batch_size: 20",
          "threat_model: {norm: Linf, epsilon: 0.03}",
          "attacks:",
          "  - type: fgsm",
          "  - {type: pgd, steps: 3, step_size: 0.01}",
          "gates: {min_robust_accuracy: 0.0}",
          "");
  static final String NORMALIZATION = "normalization: {mean: [0.2860], std: [0.3530]}\n";

  static Path fixture(String name) {
    try {
      return Path.of(ByoModelsTest.class.getResource("/byo/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static EvaluationSuite suite(String yaml) {
    return Specs.parse(yaml, EvaluationSuite.class, "byo.yaml");
  }

  static Report run(String model, String yaml) {
    return SuiteRunner.builder()
        .optThreads(1)
        .optGallery(false)
        .build()
        .run(fixture(model), suite(yaml), null);
  }

  /** 21 synthetic images: not a multiple of the fixed batch 8, so padding is exercised. */
  static ImageBatch images() {
    ImageDataset test = Datasets.load("synthetic", null, Split.TEST);
    int[] idx = new int[21];
    Arrays.setAll(idx, i -> 3 * i);
    return new ImageBatch(test.gatherPixels(idx), idx.length, 1, 28, 28);
  }

  static void assertClose(float[] expected, float[] actual, double tol, String what) {
    assertEquals(expected.length, actual.length, what);
    double scale = 0;
    for (float v : expected) {
      scale = Math.max(scale, Math.abs(v));
    }
    for (int i = 0; i < expected.length; i++) {
      assertTrue(
          Math.abs(expected[i] - actual[i]) <= tol * Math.max(1, scale),
          what + "[" + i + "]: expected " + expected[i] + ", was " + actual[i]);
    }
  }

  @Test
  void everyExportGivesTheReferenceLogitsAndGradients() {
    ImageBatch x = images();
    int[] labels = new int[x.n()];
    int[] targets = new int[x.n()];
    for (int i = 0; i < x.n(); i++) {
      labels[i] = i % 10;
      targets[i] = (i + 3) % 10;
    }
    EvaluationSuite.Normalization norm =
        new EvaluationSuite.Normalization(List.of(0.2860), List.of(0.3530));
    try (OrtClassifier ref = OrtClassifier.open(fixture("reference.onnx"), 1)) {
      float[] z = ref.logits(x);
      LossGradient ce = ref.lossGradient(x, labels, null, LossHead.CE);
      LossGradient dlrT = ref.lossGradient(x, labels, targets, LossHead.DLR_TARGETED);
      for (String name : List.of("fixed-batch.onnx", "nhwc.onnx", "no-norm.onnx")) {
        try (OrtClassifier m =
            OrtClassifier.open(
                fixture(name), RuntimeOptions.cpu(1), name.equals("no-norm.onnx") ? norm : null)) {
          assertEquals(name.equals("fixed-batch.onnx") ? 8 : 0, m.fixedBatch(), name);
          assertEquals(name.equals("nhwc.onnx") ? "NHWC" : "NCHW", m.layout(), name);
          assertEquals(
              List.of(-1L, 1L, 28L, 28L), Arrays.stream(m.inputShape()).boxed().toList(), name);
          assertClose(z, m.logits(x), 1e-5, name + " logits");
          LossGradient g = m.lossGradient(x, labels, null, LossHead.CE);
          assertClose(ce.losses(), g.losses(), 1e-5, name + " ce loss");
          assertClose(ce.gradient(), g.gradient(), 1e-4, name + " ce gradient");
          LossGradient t = m.lossGradient(x, labels, targets, LossHead.DLR_TARGETED);
          assertClose(dlrT.gradient(), t.gradient(), 1e-4, name + " dlr-targeted gradient");
          boolean noted =
              m.diagnostics().stream()
                  .anyMatch(d -> d.code().equals(Diagnostic.Code.MODEL_INPUT.code()));
          assertTrue(noted, name + ": " + m.diagnostics());
        }
      }
      // without its normalisation the no-norm export is another function: the key is what makes it
      // right
      try (OrtClassifier raw = OrtClassifier.open(fixture("no-norm.onnx"), 1)) {
        float[] zr = raw.logits(x);
        double worst = 0;
        for (int i = 0; i < z.length; i++) {
          worst = Math.max(worst, Math.abs(z[i] - zr[i]));
        }
        assertTrue(worst > 0.1, "no-norm without normalization should differ, max diff " + worst);
      }
    }
  }

  /**
   * The suite's {@code normalization} applies to a transfer surrogate too: the no-norm export
   * attacked through the no-norm surrogate (both given the key) breaks exactly the samples the
   * reference breaks through the reference surrogate (both normalising inside).
   */
  @Test
  void transferSurrogateGetsTheSuitesNormalization() {
    String transfer =
        String.join(
            "\n",
            "name: byo-transfer",
            "data: {dataset: synthetic}",
            "samples: 45",
            "seed: 1",
            "batch_size: 20",
            "threat_model: {norm: Linf, epsilon: 0.1}",
            "attacks:",
            "  - {type: transfer, surrogate: '%s', attack: {type: pgd, steps: 5, step_size: 0.03}}",
            "");
    Report ref = run("reference.onnx", String.format(transfer, fixture("reference.onnx")));
    Report r =
        run("no-norm.onnx", String.format(transfer, fixture("no-norm.onnx")) + NORMALIZATION);
    assertTrue(
        ref.robustCount() < ref.cleanCorrect(), "the transfer attack should break some samples");
    assertEquals(ref.cleanCorrect(), r.cleanCorrect());
    assertEquals(ref.robustCount(), r.robustCount());
    for (int i = 0; i < ref.perSample().size(); i++) {
      assertEquals(ref.perSample().get(i).robust(), r.perSample().get(i).robust(), "sample " + i);
    }
  }

  @Test
  void everyExportEvaluatesEndToEndLikeTheReference() {
    Report ref = run("reference.onnx", SUITE);
    assertTrue(ref.trusted() && ref.passed(), ref.diagnostics().toString());
    assertTrue(ref.cleanCorrect() > 0, "the fixture should classify some synthetic samples");
    for (String name : List.of("fixed-batch.onnx", "nhwc.onnx", "no-norm.onnx")) {
      Report r = run(name, name.equals("no-norm.onnx") ? SUITE + NORMALIZATION : SUITE);
      assertTrue(r.trusted(), name + ": " + r.diagnostics());
      assertEquals(ref.cleanCorrect(), r.cleanCorrect(), name);
      assertEquals(ref.robustCount(), r.robustCount(), name);
      for (int i = 0; i < ref.perSample().size(); i++) {
        Report.SampleEntry a = ref.perSample().get(i);
        Report.SampleEntry b = r.perSample().get(i);
        assertEquals(a.cleanPred(), b.cleanPred(), name + " sample " + a.index());
        assertEquals(a.robust(), b.robust(), name + " sample " + a.index());
        assertEquals(a.brokenBy(), b.brokenBy(), name + " sample " + a.index());
      }
      assertTrue(
          r.diagnostics().stream().anyMatch(d -> d.startsWith("ARAT-D018")),
          name + ": " + r.diagnostics());
    }
  }

  @Test
  void aBatchSizeHiddenInsideTheGraphIsAnInputErrorSayingWhatToDo() {
    EvaluationException e =
        assertThrows(
            EvaluationException.class, () -> OrtClassifier.open(fixture("hidden-batch.onnx"), 1));
    assertEquals(EvaluationException.Kind.INPUT, e.kind(), e.getMessage());
    assertTrue(
        e.getMessage().contains("batch of 1") && e.getMessage().contains("dynamic_axes"),
        e.getMessage());
  }

  @Test
  void inputsThatAreNotImagesAreClearErrors() {
    GraphBuilder flat = new GraphBuilder("flat");
    String x = flat.input("pixels", Tensors.FLOAT, "N", 784);
    flat.output(
        flat.node(Op.MAT_MUL, x, flat.floatInitializer("w", new float[7840], 784, 10)),
        "logits",
        Tensors.FLOAT,
        "N",
        10);
    EvaluationException e =
        assertThrows(
            EvaluationException.class, () -> new OrtClassifier(flat.build(13), "flat model", 1));
    assertEquals(EvaluationException.Kind.INPUT, e.kind());
    assertTrue(
        e.getMessage().contains("(N,784)") && e.getMessage().contains("(N,C,H,W)"), e.getMessage());

    GraphBuilder bytes = new GraphBuilder("bytes");
    String b = bytes.input("pixels", Tensors.INT64, "N", 1, 28, 28);
    bytes.output(bytes.node(Op.FLATTEN, b), "logits", Tensors.INT64, "N", 784);
    ModelProto m = bytes.build(13);
    e = assertThrows(EvaluationException.class, () -> new OrtClassifier(m, "int model", 1));
    assertTrue(
        e.getMessage().contains("'pixels' is int64") && e.getMessage().contains("float32"),
        e.getMessage());
  }

  @Test
  void normalizationIsValidatedAgainstTheModel() {
    SpecException bad =
        assertThrows(
            SpecException.class, () -> suite(SUITE + "normalization: {mean: [0.5], std: [0]}\n"));
    assertTrue(bad.getMessage().contains("normalization.std[0]"), bad.getMessage());
    EvaluationException e =
        assertThrows(
            EvaluationException.class,
            () ->
                run(
                    "no-norm.onnx",
                    SUITE + "normalization: {mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2]}\n"));
    assertEquals(EvaluationException.Kind.INPUT, e.kind());
    assertTrue(
        e.getMessage().contains("normalization.mean has 3 values; the model has 1 channel"),
        e.getMessage());
  }

  @Test
  void reportAndVerdictSayWhenNoGateWasSet() {
    Report r = run("reference.onnx", SUITE.replace("gates: {min_robust_accuracy: 0.0}\n", ""));
    assertTrue(r.gates().isEmpty());
    assertTrue(ReportFiles.verdictLine(r).startsWith("NO GATES"), ReportFiles.verdictLine(r));
    assertTrue(ReportFiles.toMarkdown(r).contains("no gates set"), ReportFiles.toMarkdown(r));
    Report gated = run("reference.onnx", SUITE);
    assertEquals("PASSED: every gate passed", ReportFiles.verdictLine(gated));
  }
}
