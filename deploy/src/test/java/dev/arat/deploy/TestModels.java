package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Split;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import java.util.List;
import java.util.Map;

/** Small ONNX classifiers on the synthetic dataset (1x28x28, 10 classes) for package tests. */
final class TestModels {
  private TestModels() {}

  /**
   * A nearest-class-mean linear classifier (w_c = s*mu_c, b_c = -s*|mu_c|^2/2 from the synthetic
   * training split); with {@code levels > 0} its weights are rounded to a symmetric grid of that
   * many steps per sign (scale = max|w| / levels), a stand-in for a quantized variant.
   */
  static ModelProto nearestMean(int levels) {
    return nearestMean(levels, null);
  }

  /** {@link #nearestMean(int)}; a variant ({@code levels > 0}) names {@code parentSha256} as its parent. */
  static ModelProto nearestMean(int levels, String parentSha256) {
    ImageDataset train = Datasets.load("synthetic", null, Split.TRAIN);
    int k = train.numClasses();
    int d = train.imageSize();
    double[] sum = new double[k * d];
    int[] count = new int[k];
    for (int i = 0; i < train.size(); i++) {
      int y = train.labels()[i];
      count[y]++;
      for (int j = 0; j < d; j++) {
        sum[y * d + j] += train.pixels()[i * d + j];
      }
    }
    float[] w = new float[k * d];
    float[] b = new float[k];
    float s = 0.1f;
    for (int c = 0; c < k; c++) {
      double sq = 0;
      for (int j = 0; j < d; j++) {
        double mu = sum[c * d + j] / count[c];
        w[c * d + j] = (float) (s * mu);
        sq += mu * mu;
      }
      b[c] = (float) (-s * sq / 2);
    }
    if (levels > 0) {
      float max = 0;
      for (float v : w) {
        max = Math.max(max, Math.abs(v));
      }
      float scale = max / levels;
      for (int i = 0; i < w.length; i++) {
        w[i] = Math.round(w[i] / scale) * scale;
      }
    }
    GraphBuilder g = new GraphBuilder("nearest-mean");
    String x = g.imageInput("input", 1, 28, 28);
    String flat = g.node(Op.FLATTEN, List.of(x), Map.of("axis", 1L));
    String z = g.node(Op.GEMM, List.of(flat, g.floatInitializer("fc.weight", w, k, d),
        g.floatInitializer("fc.bias", b, k)), Map.of("transB", 1L));
    g.output(z, "logits", Tensors.FLOAT, "N", k);
    g.metadata("arat.dataset", "synthetic");
    if (levels > 0) {
      g.metadata("arat.quantize.precision", "int" + (32 - Integer.numberOfLeadingZeros(levels) + 1) + "-weights");
      if (parentSha256 != null) {
        g.metadata("arat.quantize.parent_sha256", parentSha256);
      }
    }
    return g.build(17);
  }
}
