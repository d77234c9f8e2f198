package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Test fixtures: small seeded float32 classifiers written with {@link GraphBuilder}. */
final class TinyModels {
  static final int K = 5;

  private TinyModels() {}

  static float[] randn(Random r, int n, double scale) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (r.nextGaussian() * scale);
    }
    return a;
  }

  /**
   * A residual CNN at opset 13: input (N,1,8,8) -> Conv(4, 3x3) -> Relu -> Conv(4, 3x3) -> Add
   * (residual) -> Relu -> MaxPool(2) -> Flatten -> Gemm(transB=1) -> 5 logits.
   */
  static ModelProto residualCnn(long seed) {
    Random r = new Random(seed);
    GraphBuilder g = new GraphBuilder("tiny");
    String x = g.imageInput("image", 1, 8, 8);
    Map<String, Object> conv =
        Map.of("kernel_shape", new long[] {3, 3}, "pads", new long[] {1, 1, 1, 1});
    String c1 =
        g.node(
            Op.RELU,
            g.node(
                Op.CONV,
                List.of(
                    x,
                    g.floatInitializer("conv1.weight", randn(r, 4 * 9, 0.5), 4, 1, 3, 3),
                    g.floatInitializer("conv1.bias", randn(r, 4, 0.1), 4)),
                conv));
    String c2 =
        g.node(
            Op.CONV,
            List.of(
                c1,
                g.floatInitializer("conv2.weight", randn(r, 4 * 4 * 9, 0.25), 4, 4, 3, 3),
                g.floatInitializer("conv2.bias", randn(r, 4, 0.1), 4)),
            conv);
    String res = g.node(Op.RELU, g.node(Op.ADD, c2, c1));
    String p =
        g.node(
            Op.MAX_POOL,
            List.of(res),
            Map.of("kernel_shape", new long[] {2, 2}, "strides", new long[] {2, 2}));
    String f = g.node(Op.FLATTEN, List.of(p), Map.of("axis", 1));
    String z =
        g.node(
            Op.GEMM,
            List.of(
                f,
                g.floatInitializer("fc.weight", randn(r, K * 64, 0.2), K, 64),
                g.floatInitializer("fc.bias", randn(r, K, 0.1), K)),
            Map.of("transB", 1));
    g.output(z, "logits", Tensors.FLOAT, "N", K);
    g.metadata("arat.dataset", "synthetic");
    return g.build(13);
  }

  /** {@code n} seeded images of 1x8x8 in [0,1], as calibration data. */
  static CalibrationData calibration(int n, long seed) {
    Random r = new Random(seed);
    float[] px = new float[n * 64];
    for (int i = 0; i < px.length; i++) {
      px[i] = r.nextFloat();
    }
    return new CalibrationData(px, n, 1, 8, 8, "0".repeat(64), "random test images");
  }
}
