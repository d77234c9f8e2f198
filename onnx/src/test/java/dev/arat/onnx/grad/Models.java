package dev.arat.onnx.grad;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Test helper: small seeded forward models written with {@link GraphBuilder}. */
final class Models {
  private Models() {}

  static float[] randn(Random r, int n, double scale) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (r.nextGaussian() * scale);
    }
    return a;
  }

  static float[] uniform(Random r, int n, double lo, double hi) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (lo + (hi - lo) * r.nextDouble());
    }
    return a;
  }

  /** A conv weight (m, c/group, kh, kw) with He scaling. */
  static String convW(GraphBuilder g, Random r, String name, int m, int cPerGroup, int kh, int kw) {
    return g.floatInitializer(
        name,
        randn(r, m * cPerGroup * kh * kw, Math.sqrt(2.0 / (cPerGroup * kh * kw))),
        m,
        cPerGroup,
        kh,
        kw);
  }

  /** Flatten + Gemm(transB=1) to k logits and the output declaration. */
  static ModelProto head(GraphBuilder g, Random r, String x, int features, int k) {
    String f = g.node(Op.FLATTEN, List.of(x), Map.of("axis", 1));
    String w =
        g.floatInitializer(
            "fc.weight", randn(r, k * features, 1.0 / Math.sqrt(features)), k, features);
    String bias = g.floatInitializer("fc.bias", randn(r, k, 0.1), k);
    String z = g.node(Op.GEMM, List.of(f, w, bias), Map.of("transB", 1));
    g.output(z, "logits", Tensors.FLOAT, "N", k);
    return g.build(17);
  }

  /**
   * Conv(3x3,pad1)+BN+Relu+MaxPool(2)+Conv(stride2)+Relu+GlobalAveragePool+Flatten+Gemm(transB=1);
   * input (N,3,8,8), 5 classes.
   */
  static ModelProto cnn(long seed) {
    Random r = new Random(seed);
    GraphBuilder g = new GraphBuilder("cnn");
    String x = g.imageInput("image", 3, 8, 8);
    String c1 =
        g.node(
            Op.CONV,
            List.of(
                x,
                convW(g, r, "conv1.weight", 4, 3, 3, 3),
                g.floatInitializer("conv1.bias", randn(r, 4, 0.1), 4)),
            Map.of("kernel_shape", new long[] {3, 3}, "pads", new long[] {1, 1, 1, 1}));
    String bn =
        g.node(
            Op.BATCH_NORMALIZATION,
            List.of(
                c1,
                g.floatInitializer("bn.scale", uniform(r, 4, 0.5, 1.5), 4),
                g.floatInitializer("bn.bias", randn(r, 4, 0.1), 4),
                g.floatInitializer("bn.mean", randn(r, 4, 0.1), 4),
                g.floatInitializer("bn.var", uniform(r, 4, 0.5, 2), 4)),
            Map.of("epsilon", 1e-5f));
    String a1 = g.node(Op.RELU, bn);
    String p1 =
        g.node(
            Op.MAX_POOL,
            List.of(a1),
            Map.of("kernel_shape", new long[] {2, 2}, "strides", new long[] {2, 2}));
    String c2 =
        g.node(
            Op.CONV,
            List.of(p1, convW(g, r, "conv2.weight", 6, 4, 3, 3)),
            Map.of("strides", new long[] {2, 2}, "pads", new long[] {1, 1, 1, 1}));
    String a2 = g.node(Op.RELU, c2);
    String gap = g.node(Op.GLOBAL_AVERAGE_POOL, a2);
    return head(g, r, gap, 6, 5);
  }

  /**
   * Sub/Div normalisation, Conv+Relu, a residual Conv+Add (the Relu output feeds two nodes),
   * AveragePool(2, pads, count_include_pad=0), Reshape([0,-1]), MatMul + Add; input (N,2,6,6), 4
   * classes; optionally a final Softmax.
   */
  static ModelProto norm(long seed, boolean softmax) {
    Random r = new Random(seed);
    GraphBuilder g = new GraphBuilder("norm");
    String x = g.imageInput("pixels", 2, 6, 6);
    String sub =
        g.node(Op.SUB, x, g.floatInitializer("mean", new float[] {0.4f, 0.6f}, 1, 2, 1, 1));
    String div =
        g.node(Op.DIV, sub, g.floatInitializer("std", new float[] {0.25f, 0.3f}, 1, 2, 1, 1));
    String c1 =
        g.node(
            Op.CONV,
            List.of(div, convW(g, r, "c1.w", 3, 2, 3, 3)),
            Map.of("pads", new long[] {1, 1, 1, 1}));
    String a1 = g.node(Op.RELU, c1);
    String c2 =
        g.node(
            Op.CONV,
            List.of(
                a1,
                convW(g, r, "c2.w", 3, 3, 3, 3),
                g.floatInitializer("c2.b", randn(r, 3, 0.1), 3)),
            Map.of("pads", new long[] {1, 1, 1, 1}));
    String res = g.node(Op.ADD, a1, c2);
    String pool =
        g.node(
            Op.AVERAGE_POOL,
            List.of(res),
            Map.of(
                "kernel_shape",
                new long[] {3, 3},
                "strides",
                new long[] {2, 2},
                "pads",
                new long[] {1, 1, 1, 1}));
    // pool: (N,3,3,3)
    String flat = g.node(Op.RESHAPE, pool, g.int64Vector("shape", 0, -1));
    String w = g.floatInitializer("w", randn(r, 27 * 4, 1 / Math.sqrt(27)), 27, 4);
    String mm = g.node(Op.MAT_MUL, flat, w);
    String z = g.node(Op.ADD, mm, g.floatInitializer("b", randn(r, 4, 0.1), 4));
    if (softmax) {
      z = g.node(Op.SOFTMAX, List.of(z), Map.of("axis", 1));
    }
    g.output(z, "out", Tensors.FLOAT, "N", 4);
    return g.build(17);
  }
}
