package dev.arat.onnx.grad;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.onnx.scan.GraphScan;
import dev.arat.onnx.testsupport.QdqNodes;
import dev.arat.specs.LossHead;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Straight-through gradients through QuantizeLinear/DequantizeLinear and float16 Casts: where no
 * activation is clipped, the QDQ model's input gradient is the gradient of the float model whose
 * weights are the dequantized weights; clipped activations get zero gradient; with the estimator
 * off the gradient is exactly zero; the graph scan reports the pairs as straight-through.
 */
class StraightThroughTest {
  private static final int N = 3;
  private static final int C = 3;
  private static final int K = 4;
  private static final int HW = 6;

  /** A conv weight and an fc weight, quantized per channel (axis 0), with their scales. */
  private record Weights(byte[] w1, float[] s1, float[] b1, byte[] w2, float[] s2, float[] b2) {
    float[] dq1() {
      return dq(w1, s1);
    }

    float[] dq2() {
      return dq(w2, s2);
    }

    private static float[] dq(byte[] q, float[] s) {
      float[] out = new float[q.length];
      int per = q.length / s.length;
      for (int i = 0; i < q.length; i++) {
        out[i] = q[i] * s[i / per];
      }
      return out;
    }
  }

  private static Weights weights(long seed) {
    Random r = new Random(seed);
    byte[] w1 = new byte[C * 9];
    byte[] w2 = new byte[K * C * HW * HW];
    for (int i = 0; i < w1.length; i++) {
      w1[i] = (byte) (r.nextInt(255) - 127);
    }
    for (int i = 0; i < w2.length; i++) {
      w2[i] = (byte) (r.nextInt(255) - 127);
    }
    float[] s1 = {0.004f, 0.003f, 0.005f};
    float[] s2 = new float[K];
    for (int k = 0; k < K; k++) {
      s2[k] = 0.0005f * (k + 1);
    }
    return new Weights(w1, s1, Models.randn(r, C, 0.1), w2, s2, Models.randn(r, K, 0.1));
  }

  /**
   * Conv(1->3, 3x3, pad 1) -> Relu -> Flatten -> Gemm(transB=1) -> 4 logits, input (N,1,6,6). With
   * {@code qdq}: Q/DQ (per-tensor, zero point {@code zp}) on the image and on the Gemm input, int8
   * weights with per-channel DequantizeLinear; otherwise the float model with the dequantized
   * weights.
   */
  static ModelProto model(Weights w, boolean qdq, float inAmax, float fcAmax, boolean uint8) {
    GraphBuilder g = new GraphBuilder(qdq ? "qdq" : "float");
    String x = g.imageInput("image", 1, HW, HW);
    String conv1W;
    String fcW;
    if (qdq) {
      x = qdqPair(g, x, inAmax, uint8);
      conv1W = dqWeight(g, "conv1", w.w1(), w.s1(), C, 1, 3, 3);
      fcW = dqWeight(g, "fc", w.w2(), w.s2(), K, C * HW * HW);
    } else {
      conv1W = g.floatInitializer("conv1.weight", w.dq1(), C, 1, 3, 3);
      fcW = g.floatInitializer("fc.weight", w.dq2(), K, C * HW * HW);
    }
    String c1 =
        g.node(
            Op.CONV,
            List.of(x, conv1W, g.floatInitializer("conv1.bias", w.b1(), C)),
            Map.of("kernel_shape", new long[] {3, 3}, "pads", new long[] {1, 1, 1, 1}));
    String f = g.node(Op.FLATTEN, List.of(g.node(Op.RELU, c1)), Map.of("axis", 1));
    if (qdq) {
      f = qdqPair(g, f, fcAmax, uint8);
    }
    String z =
        g.node(
            Op.GEMM,
            List.of(f, fcW, g.floatInitializer("fc.bias", w.b2(), K)),
            Map.of("transB", 1));
    g.output(z, "logits", Tensors.FLOAT, "N", K);
    return g.build(13);
  }

  private static String qdqPair(GraphBuilder g, String x, float amax, boolean uint8) {
    String s = g.floatScalar("act_scale", uint8 ? amax / 255f : amax / 127f);
    TensorProto zp =
        uint8
            ? Tensors.int8Tensor(g.uniqueName("act_zp"), new byte[] {(byte) 10}).toBuilder()
                .setDataType(Tensors.UINT8)
                .build()
            : Tensors.int8Tensor(g.uniqueName("act_zp"), new byte[] {0});
    return QdqNodes.pair(g, x, s, zp);
  }

  private static String dqWeight(GraphBuilder g, String name, byte[] q, float[] s, long... dims) {
    String qn = g.initializer(Tensors.int8Tensor(name + ".weight_quantized", q, dims));
    String sn = g.floatInitializer(name + ".weight_scale", s, s.length);
    String zn =
        g.initializer(Tensors.int8Tensor(name + ".weight_zp", new byte[s.length], s.length));
    String out = g.uniqueName(name + ".weight_dq");
    g.appendRaw(
        NodeProto.newBuilder()
            .setOpType("DequantizeLinear")
            .setName(out)
            .addInput(qn)
            .addInput(sn)
            .addInput(zn)
            .addOutput(out)
            .addAttribute(
                ai.onnx.proto.OnnxMl.AttributeProto.newBuilder()
                    .setName("axis")
                    .setType(ai.onnx.proto.OnnxMl.AttributeProto.AttributeType.INT)
                    .setI(0))
            .build());
    return out;
  }

  private static float[] images(long seed) {
    return Models.uniform(new Random(seed), N * HW * HW, 0, 1);
  }

  private static Map<String, float[]> gradient(
      ModelProto m, float[] x, LossHead head, boolean ste) {
    GradientGraph gg = new GradientGraphBuilder(ste).build(m, head);
    Map<String, Object> in = new HashMap<>();
    in.put(GradientGraphBuilder.INPUT, new OrtRunner.F(x, N, 1, HW, HW));
    in.put(GradientGraphBuilder.LABELS, new OrtRunner.L(new long[] {0, 1, 2}, N));
    return OrtRunner.run(gg.model(), in);
  }

  @Test
  void unclippedGradientEqualsTheDequantizedFloatModels() {
    Weights w = weights(1);
    float[] x = images(2);
    for (LossHead head : List.of(LossHead.CE, LossHead.DLR)) {
      float[] ste =
          gradient(model(w, true, 4f, 500f, false), x, head, true)
              .get(GradientGraphBuilder.INPUT_GRAD);
      float[] ref =
          gradient(model(w, false, 0, 0, false), x, head, true)
              .get(GradientGraphBuilder.INPUT_GRAD);
      double norm = 0;
      for (int i = 0; i < ref.length; i++) {
        assertEquals(ref[i], ste[i], 1e-6 + 1e-5 * Math.abs(ref[i]), head + " pixel " + i);
        norm += Math.abs(ref[i]);
      }
      assertTrue(norm > 1e-3, "the reference gradient is not trivially zero");
    }
  }

  @Test
  void clippedInputsGetZeroGradientAndTheRestPassesStraightThrough() {
    Weights w = weights(3);
    float[] x = images(4);
    float amax = 0.5f; // int8 range [-128, 127] * 0.5/127: pixels above 0.5 are clipped
    float[] ste =
        gradient(model(w, true, amax, 500f, false), x, LossHead.CE, true)
            .get(GradientGraphBuilder.INPUT_GRAD);
    float[] ref =
        gradient(model(w, false, 0, 0, false), clip(x, amax), LossHead.CE, true)
            .get(GradientGraphBuilder.INPUT_GRAD);
    int clipped = 0;
    for (int i = 0; i < x.length; i++) {
      if (x[i] > amax) {
        clipped++;
        assertEquals(0f, ste[i], "clipped pixel " + i);
      } else {
        assertEquals(ref[i], ste[i], 1e-6 + 1e-5 * Math.abs(ref[i]), "pixel " + i);
      }
    }
    assertTrue(clipped > 10 && clipped < x.length - 10, "a mix of clipped and unclipped pixels");
  }

  private static float[] clip(float[] x, float hi) {
    float[] out = x.clone();
    for (int i = 0; i < out.length; i++) {
      out[i] = Math.min(out[i], hi);
    }
    return out;
  }

  @Test
  void withoutStraightThroughTheGradientIsExactlyZeroAndSaysWhy() {
    ModelProto m = model(weights(5), true, 4f, 500f, false);
    GradientGraph gg = new GradientGraphBuilder(false).build(m, LossHead.CE);
    assertTrue(
        gg.notes().stream()
            .anyMatch(
                s -> s.message().contains("straight-through gradients are" + " switched off")),
        gg.notes().toString());
    Map<String, float[]> out = gradient(m, images(6), LossHead.CE, false);
    for (float v : out.get(GradientGraphBuilder.INPUT_GRAD)) {
      assertEquals(0f, v);
    }
    // its logits are the real quantized model's (rounding included), the surrogate's are not
    float[] real =
        OrtRunner.run(m, Map.of("image", new OrtRunner.F(images(6), N, 1, HW, HW))).get("logits");
    float[] exact = out.get(GradientGraphBuilder.LOGITS);
    float[] surrogate = gradient(m, images(6), LossHead.CE, true).get(GradientGraphBuilder.LOGITS);
    boolean differ = false;
    for (int i = 0; i < exact.length; i++) {
      assertEquals(real[i], exact[i], 1e-5 * (1 + Math.abs(real[i])));
      differ |= Math.abs(surrogate[i] - real[i]) > 1e-4;
    }
    assertTrue(differ, "the surrogate's logits skip the activation rounding");
  }

  @Test
  void scanCallsTheQdqPairsStraightThroughAndFlagsAsymmetricZeroPoints() {
    List<GraphScan.Finding> sym = GraphScan.scan(model(weights(7), true, 4f, 500f, false));
    assertFalse(GraphScan.hasErrors(sym), sym.toString());
    assertEquals(
        2,
        sym.stream().filter(f -> f.code().equals(GraphScan.STRAIGHT_THROUGH)).count(),
        sym.toString());
    assertTrue(sym.stream().noneMatch(f -> f.code().equals(GraphScan.NOT_TENSORRT)));

    ModelProto asym = model(weights(7), true, 4f, 500f, true);
    List<GraphScan.Finding> a = GraphScan.scan(asym);
    assertFalse(GraphScan.hasErrors(a), a.toString());
    assertEquals(
        4, a.stream().filter(f -> f.code().equals(GraphScan.NOT_TENSORRT)).count(), a.toString());
    // and it is still differentiated: the zero point shifts the clip range
    float[] g = gradient(asym, images(8), LossHead.CE, true).get(GradientGraphBuilder.INPUT_GRAD);
    assertTrue(java.util.Arrays.stream(toDouble(g)).anyMatch(v -> v != 0));
  }

  private static double[] toDouble(float[] a) {
    double[] d = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      d[i] = a[i];
    }
    return d;
  }

  @Test
  void float16CastsAreTheIdentityAndWeightsAreTheRoundedOnes() {
    Weights w = weights(9);
    ModelProto f32 = model(w, false, 0, 0, false);
    // a float16 twin written by hand: Cast in, float16 weights, Cast out
    GraphBuilder g = new GraphBuilder("fp16");
    String x = g.imageInput("image", 1, HW, HW);
    String h = g.node(Op.CAST, List.of(x), Map.of("to", (long) Tensors.FLOAT16));
    String c1 =
        g.node(
            Op.CONV,
            List.of(
                h,
                g.initializer(Tensors.float16Tensor("conv1.weight", w.dq1(), C, 1, 3, 3)),
                g.initializer(Tensors.float16Tensor("conv1.bias", w.b1(), C))),
            Map.of("kernel_shape", new long[] {3, 3}, "pads", new long[] {1, 1, 1, 1}));
    String f = g.node(Op.FLATTEN, List.of(g.node(Op.RELU, c1)), Map.of("axis", 1));
    String z =
        g.node(
            Op.GEMM,
            List.of(
                f,
                g.initializer(Tensors.float16Tensor("fc.weight", w.dq2(), K, C * HW * HW)),
                g.initializer(Tensors.float16Tensor("fc.bias", w.b2(), K))),
            Map.of("transB", 1));
    g.output(
        g.node(Op.CAST, List.of(z), Map.of("to", (long) Tensors.FLOAT)),
        "logits",
        Tensors.FLOAT,
        "N",
        K);
    ModelProto f16 = g.build(13);
    StraightThrough.Surrogate s = StraightThrough.of(f16, true);
    assertTrue(s.float16());
    for (TensorProto t : s.model().getGraph().getInitializerList()) {
      assertEquals(Tensors.FLOAT, t.getDataType(), t.getName());
    }
    float[] x0 = images(10);
    float[] g16 = gradient(f16, x0, LossHead.CE, true).get(GradientGraphBuilder.INPUT_GRAD);
    float[] g32 = gradient(f32, x0, LossHead.CE, true).get(GradientGraphBuilder.INPUT_GRAD);
    for (int i = 0; i < g32.length; i++) {
      assertEquals(g32[i], g16[i], 2e-3 * (1 + Math.abs(g32[i])), "pixel " + i);
    }
  }

  @Test
  void halfPrecisionRoundTripsEveryFloat16AndRoundsTiesToEven() {
    for (int b = 0; b < 65536; b++) {
      short h = (short) b;
      float f = Tensors.fromHalf(h);
      if (!Float.isNaN(f)) {
        assertEquals(h, Tensors.toHalf(f), "bits " + Integer.toHexString(b));
      }
    }
    assertEquals(Tensors.toHalf(1f), Tensors.toHalf(1f + 0x1p-11f)); // tie -> even (1.0)
    assertEquals(
        (short) (Tensors.toHalf(1f) + 2), Tensors.toHalf(1f + 3 * 0x1p-11f)); // tie -> even
    assertEquals((short) 0x7c00, Tensors.toHalf(65520f)); // overflow to infinity
    assertEquals((short) 0x7bff, Tensors.toHalf(65519f));
    assertEquals((short) 0x0001, Tensors.toHalf(0x1p-24f)); // smallest subnormal
    assertEquals((short) 0, Tensors.toHalf(0x1p-25f)); // tie -> even (0)
  }
}
