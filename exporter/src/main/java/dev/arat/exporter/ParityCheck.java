package dev.arat.exporter;

import dev.arat.attack.Classifier;
import dev.arat.attack.ImageBatch;

/**
 * Proves that an exported model computes what the checkpoint computes: both classifiers score the
 * same held-out images and their logits are compared.
 */
public final class ParityCheck {
  private ParityCheck() {}

  /**
   * Default tolerance, relative to the logit scale: the check passes when {@code max |diff| <=
   * tolerance * max(1, max |logit|)}. float32 rounding grows with the magnitude of the logits (a
   * badly conditioned network can have logits of 1e4 and more), so an absolute bound would fail
   * exact exports of such models; for ordinary logits (|z| <= 1) it is an absolute 1e-3.
   */
  public static final double DEFAULT_TOLERANCE = 1e-3;

  /**
   * The outcome of a comparison.
   *
   * @param samples images compared
   * @param maxAbsDiff largest absolute logit difference
   * @param maxAbsLogit largest absolute reference logit (the scale of the differences)
   * @param argmaxAgreement fraction of images whose predicted class is the same
   * @param tolerance the absolute tolerance applied
   * @param passed {@code maxAbsDiff <= tolerance * max(1, maxAbsLogit)}, all logits finite and the
   *     same count of classes
   */
  public record Result(
      int samples,
      double maxAbsDiff,
      double maxAbsLogit,
      double argmaxAgreement,
      double tolerance,
      boolean passed) {
    /** One line for a terminal. */
    public String summary() {
      return String.format(
          "parity on %d images: max |logit diff| %.3g (tolerance %.1g x max(1, max |logit| %.3g)),"
              + " argmax agreement %.2f%% -> %s",
          samples,
          maxAbsDiff,
          tolerance,
          maxAbsLogit,
          100 * argmaxAgreement,
          passed ? "OK" : "FAILED");
    }
  }

  /**
   * Compares two classifiers on {@code images}.
   *
   * @param reference the checkpoint's network (the deployed mode: adversarial BN, eval)
   * @param exported the exported model
   * @param images float32 {@code (N,C,H,W)} in [0,1], held out from training
   * @param tolerance largest acceptable logit difference per unit of logit scale (see {@link
   *     #DEFAULT_TOLERANCE})
   * @param batchSize images per call
   */
  public static Result compare(
      Classifier reference,
      Classifier exported,
      ImageBatch images,
      double tolerance,
      int batchSize) {
    int k = reference.numClasses();
    if (exported.numClasses() != k) {
      return new Result(images.n(), Double.POSITIVE_INFINITY, 0, 0, tolerance, false);
    }
    double maxDiff = 0;
    double maxLogit = 0;
    int agree = 0;
    boolean finite = true;
    for (int start = 0; start < images.n(); start += batchSize) {
      int n = Math.min(batchSize, images.n() - start);
      int[] rows = new int[n];
      for (int i = 0; i < n; i++) {
        rows[i] = start + i;
      }
      ImageBatch b = images.select(rows);
      float[] a = reference.logits(b);
      float[] e = exported.logits(b);
      for (int j = 0; j < a.length; j++) {
        if (!Float.isFinite(a[j]) || !Float.isFinite(e[j])) {
          finite = false;
        }
        maxDiff = Math.max(maxDiff, Math.abs((double) a[j] - e[j]));
        maxLogit = Math.max(maxLogit, Math.abs(a[j]));
      }
      int[] pa = Classifier.argmax(a, k);
      int[] pe = Classifier.argmax(e, k);
      for (int i = 0; i < n; i++) {
        agree += pa[i] == pe[i] ? 1 : 0;
      }
    }
    double agreement = images.n() == 0 ? 1 : (double) agree / images.n();
    return new Result(
        images.n(),
        finite ? maxDiff : Double.NaN,
        maxLogit,
        agreement,
        tolerance,
        finite && maxDiff <= tolerance * Math.max(1, maxLogit));
  }
}
