package dev.arat.evaluator.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.arat.attack.ImageBatch;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.evaluator.checks.Probes;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.onnx.testsupport.QdqNodes;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Specs;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A QDQ (quantized) model is evaluated with straight-through gradients: ARAT-D020 instead of the
 * fatal ARAT-D015; switched off, the zero-gradient diagnostic ARAT-D003 fires; without Square and
 * transfer attacks the run is untrusted (ARAT-D021); asymmetric zero points are accepted but
 * flagged as not TensorRT-compatible (ARAT-D022).
 */
class QuantizedModelTest {
  private static final String SUITE =
      String.join(
          "\n",
          "name: q",
          "data: {dataset: synthetic}",
          "samples: 8",
          "seed: 1",
          "threat_model: {norm: Linf, epsilon: 0.1}",
          "attacks:",
          "  - {type: apgd, steps: 2}",
          "");

  /** Conv(1->2, 3x3) on a Q/DQ'd image, Relu, Flatten, Q/DQ, Gemm -> 3 logits; input (N,1,6,6). */
  static ModelProto qdq(boolean asymmetric) {
    Random r = new Random(3);
    GraphBuilder g = new GraphBuilder("qdq");
    String x = pair(g, g.imageInput("image", 1, 6, 6), 2f, asymmetric);
    float[] w1 = new float[2 * 9];
    float[] w2 = new float[3 * 32];
    for (int i = 0; i < w1.length; i++) {
      w1[i] = (float) r.nextGaussian();
    }
    for (int i = 0; i < w2.length; i++) {
      w2[i] = (float) r.nextGaussian() * 0.3f;
    }
    String c =
        g.node(
            Op.CONV,
            List.of(x, g.floatInitializer("w1", w1, 2, 1, 3, 3)),
            Map.of("kernel_shape", new long[] {3, 3}));
    String f =
        pair(
            g, g.node(Op.FLATTEN, List.of(g.node(Op.RELU, c)), Map.of("axis", 1)), 20f, asymmetric);
    String z =
        g.node(Op.GEMM, List.of(f, g.floatInitializer("w2", w2, 3, 32)), Map.of("transB", 1));
    g.output(z, "logits", Tensors.FLOAT, "N", 3);
    return g.build(13);
  }

  private static String pair(GraphBuilder g, String x, float amax, boolean asymmetric) {
    String s = g.floatScalar("s", amax / 127f);
    TensorProto zp =
        Tensors.int8Tensor(g.uniqueName("zp"), new byte[] {(byte) (asymmetric ? 3 : 0)});
    return QdqNodes.pair(g, x, s, zp);
  }

  private static List<String> codes(OrtClassifier c) {
    return c.diagnostics().stream().map(Diagnostic::code).toList();
  }

  private static ImageBatch images(int n) {
    Random r = new Random(5);
    float[] px = new float[n * 36];
    for (int i = 0; i < px.length; i++) {
      px[i] = r.nextFloat();
    }
    return new ImageBatch(px, n, 1, 6, 6);
  }

  @Test
  void straightThroughGradientsAreAWarningAndSwitchedOffTheZeroGradientDiagnosticFires() {
    EvaluationSuite suite = Specs.parse(SUITE, EvaluationSuite.class, "q.yaml");
    ImageBatch x = images(6);
    int[] labels = {0, 1, 2, 0, 1, 2};
    try (OrtClassifier ste = new OrtClassifier(qdq(false), "qdq", 1);
        OrtClassifier exact = new OrtClassifier(qdq(false), "qdq", 1)) {
      assertTrue(
          codes(ste).contains(Diagnostic.Code.STRAIGHT_THROUGH_GRADIENTS.code()),
          codes(ste).toString());
      assertFalse(
          codes(ste).contains(Diagnostic.Code.GRADIENT_MASKING_OPS.code()), codes(ste).toString());
      assertFalse(codes(ste).contains(Diagnostic.Code.NOT_TENSORRT_COMPATIBLE.code()));
      assertNull(Probes.zeroGradient(ste, x, labels, suite, 3));
      exact.setStraightThrough(false);
      Diagnostic d = Probes.zeroGradient(exact, x, labels, suite, 3);
      assertEquals(Diagnostic.Code.ZERO_GRADIENT.code(), d.code());
      assertTrue(d.message().startsWith("6 of 6 probe samples"), d.message());
    }
  }

  @Test
  void straightThroughWithoutSquareAndTransferIsUntrusted() {
    List<Diagnostic> d020 = List.of(Diagnostic.Code.STRAIGHT_THROUGH_GRADIENTS.of("x"));
    EvaluationSuite apgdOnly = Specs.parse(SUITE, EvaluationSuite.class, "q.yaml");
    List<Diagnostic> out = TrustChecks.straightThroughChecked(d020, apgdOnly);
    assertEquals(Diagnostic.Code.STRAIGHT_THROUGH_UNCHECKED.code(), out.get(out.size() - 1).code());
    assertTrue(
        out.get(out.size() - 1).message().contains("no square attack and no transfer attack"));
    EvaluationSuite checked =
        Specs.parse(
            SUITE
                + "  - {type: square, queries: 10}\n"
                + "  - {type: transfer, surrogate: parent.onnx, attack: {type: apgd, steps: 2}}\n",
            EvaluationSuite.class,
            "q.yaml");
    assertEquals(d020, TrustChecks.straightThroughChecked(d020, checked));
    assertEquals(List.of(), TrustChecks.straightThroughChecked(List.of(), apgdOnly));
  }

  @Test
  void asymmetricZeroPointsAreEvaluatedButNotTensorRtCompatible() {
    try (OrtClassifier c = new OrtClassifier(qdq(true), "asym", 1)) {
      List<String> codes = codes(c);
      assertTrue(codes.contains(Diagnostic.Code.NOT_TENSORRT_COMPATIBLE.code()), codes.toString());
      assertTrue(
          c.diagnostics().stream().noneMatch(d -> d.severity() == Diagnostic.Severity.FATAL),
          codes.toString());
      float[] z = c.logits(images(2));
      assertEquals(6, z.length);
      c.prepare(dev.arat.specs.LossHead.CE); // the straight-through gradient graph loads
    }
  }
}
