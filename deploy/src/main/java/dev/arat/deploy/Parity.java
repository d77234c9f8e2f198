package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.attack.ImageBatch;
import dev.arat.evaluator.ort.OrtClassifier;
import java.util.Locale;

/**
 * How a quantized or float16 variant compares with its float32 parent on held-out images (test
 * images, never the calibration images): top-1 agreement, largest logit difference, clean accuracy
 * of both. Both models run in ONNX Runtime with {@link OrtClassifier}'s session options (graph
 * optimisation level ORT_ENABLE_ALL, at which the QDQ transformer may fuse integer kernels).
 *
 * @param samples images compared
 * @param top1Agreement fraction of images on which both predict the same class
 * @param maxAbsLogitDiff largest |parent logit - variant logit| over all images and classes
 * @param parentAccuracy clean accuracy of the parent
 * @param variantAccuracy clean accuracy of the variant
 */
public record Parity(
    int samples,
    double top1Agreement,
    double maxAbsLogitDiff,
    double parentAccuracy,
    double variantAccuracy) {
  private static final int BATCH = 128;

  /**
   * Compares the models.
   *
   * @param parent the float32 parent
   * @param variant the variant (same input and classes)
   * @param images held-out images, {@code [0,1]} NCHW
   * @param labels their labels
   */
  public static Parity compare(
      ModelProto parent, ModelProto variant, ImageBatch images, int[] labels) {
    try (OrtClassifier p = new OrtClassifier(parent, "parent model", 0);
        OrtClassifier v = new OrtClassifier(variant, "variant model", 0)) {
      int k = p.numClasses();
      int agree = 0;
      int okP = 0;
      int okV = 0;
      double maxDiff = 0;
      int per = images.c() * images.h() * images.w();
      for (int from = 0; from < images.n(); from += BATCH) {
        int m = Math.min(BATCH, images.n() - from);
        float[] px = new float[m * per];
        System.arraycopy(images.data(), from * per, px, 0, px.length);
        ImageBatch b = new ImageBatch(px, m, images.c(), images.h(), images.w());
        float[] zp = p.logits(b);
        float[] zv = v.logits(b);
        for (int i = 0; i < m; i++) {
          int ap = argmax(zp, i, k);
          int av = argmax(zv, i, k);
          agree += ap == av ? 1 : 0;
          okP += ap == labels[from + i] ? 1 : 0;
          okV += av == labels[from + i] ? 1 : 0;
          for (int j = 0; j < k; j++) {
            maxDiff = Math.max(maxDiff, Math.abs(zp[i * k + j] - zv[i * k + j]));
          }
        }
      }
      int n = images.n();
      return new Parity(n, agree / (double) n, maxDiff, okP / (double) n, okV / (double) n);
    }
  }

  private static int argmax(float[] z, int row, int k) {
    int best = 0;
    for (int j = 1; j < k; j++) {
      if (z[row * k + j] > z[row * k + best]) {
        best = j;
      }
    }
    return best;
  }

  /** One line for the console, e.g. {@code parity on 1000 held-out images: top-1 agreement ...}. */
  public String summary() {
    return String.format(
        Locale.ROOT,
        "parity on %d held-out test images: top-1 agreement %.2f%%,"
            + " max |logit difference| %.4g, clean accuracy parent %.2f%% / variant %.2f%%"
            + " (ONNX Runtime, graph optimisation ORT_ENABLE_ALL)",
        samples,
        100 * top1Agreement,
        maxAbsLogitDiff,
        100 * parentAccuracy,
        100 * variantAccuracy);
  }
}
