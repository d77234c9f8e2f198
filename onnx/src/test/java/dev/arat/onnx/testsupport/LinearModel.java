package dev.arat.onnx.testsupport;

import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Split;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import java.util.List;
import java.util.Map;

/**
 * A linear classifier {@code f(x) = Wx + b} for tests, and its ONNX form (Flatten, Gemm).
 *
 * @param w weights {@code (K,d)}, row-major
 * @param b bias {@code (K)}
 * @param k number of classes
 * @param d input size (pixels of one image)
 */
public record LinearModel(float[] w, float[] b, int k, int d) {
  private static LinearModel synthetic;

  /**
   * The nearest-class-mean classifier of the synthetic training split (1x28x28, 10 classes), scaled
   * by {@code s = 0.1}: {@code w_c = s·mu_c}, {@code b_c = -s·|mu_c|²/2}. Computed once per JVM;
   * callers must not modify the arrays.
   */
  public static synchronized LinearModel syntheticNearestMean() {
    if (synthetic == null) {
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
      float scale = 0.1f;
      for (int c = 0; c < k; c++) {
        double sq = 0;
        for (int j = 0; j < d; j++) {
          double mu = sum[c * d + j] / count[c];
          w[c * d + j] = (float) (scale * mu);
          sq += mu * mu;
        }
        b[c] = (float) (-scale * sq / 2);
      }
      synthetic = new LinearModel(w, b, k, d);
    }
    return synthetic;
  }

  /**
   * This model with its weights rounded to a symmetric grid of {@code levels} steps per sign
   * ({@code scale = max|w| / levels}), a stand-in for a quantized variant; the bias is unchanged.
   */
  public LinearModel rounded(int levels) {
    float max = 0;
    for (float v : w) {
      max = Math.max(max, Math.abs(v));
    }
    float scale = max / levels;
    float[] q = new float[w.length];
    for (int i = 0; i < w.length; i++) {
      q[i] = Math.round(w[i] / scale) * scale;
    }
    return new LinearModel(q, b, k, d);
  }

  /**
   * Adds {@code Flatten(axis 1)} and {@code Gemm(transB 1)} with initializers {@code fc.weight}
   * {@code (K,d)} and {@code fc.bias} {@code (K)} on {@code input} to {@code g}.
   *
   * @return the name of the {@code (N,K)} logits
   */
  public String addTo(GraphBuilder g, String input) {
    String flat = g.node(Op.FLATTEN, List.of(input), Map.of("axis", 1L));
    String wt = g.floatInitializer("fc.weight", w, k, d);
    String bt = g.floatInitializer("fc.bias", b, k);
    return g.node(Op.GEMM, List.of(flat, wt, bt), Map.of("transB", 1L));
  }
}
