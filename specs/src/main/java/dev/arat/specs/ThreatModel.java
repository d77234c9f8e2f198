package dev.arat.specs;

import java.math.BigDecimal;
import java.util.Locale;

/**
 * A perturbation budget: images in {@code [0,1]} may move by at most {@code epsilon} under {@code
 * norm}. Epsilon is in pixel units of the {@code [0,1]} range (8/255 is 0.0314).
 *
 * @param norm the norm, {@code Linf} or {@code L2}
 * @param epsilon the radius, {@code > 0}
 */
public record ThreatModel(Norm norm, double epsilon) {
  /** Validates the budget. */
  public ThreatModel {
    if (norm == null) {
      throw new IllegalArgumentException("norm: required (Linf or L2)");
    }
    if (!(epsilon > 0) || Double.isInfinite(epsilon)) {
      throw new IllegalArgumentException("epsilon: must be > 0, was " + epsilon);
    }
    if (norm == Norm.LINF && epsilon > 1) {
      throw new IllegalArgumentException(
          "epsilon: must be at most 1 for Linf (pixels are in [0,1], so no"
              + " two images are further apart), was "
              + epsilon);
    }
  }

  /**
   * The largest meaningful radius under {@code norm} for images of {@code channels x height x
   * width} pixels in {@code [0,1]}: the distance between an all-0 and an all-1 image (1 for Linf,
   * {@code sqrt(C*H*W)} for L2).
   */
  public static double maxEpsilon(Norm norm, int channels, int height, int width) {
    return switch (norm) {
      case LINF -> 1.0;
      case L2 -> Math.sqrt((double) channels * height * width);
    };
  }

  /** A short human label such as {@code Linf eps=0.1} or {@code Linf eps=8/255 (0.03137)}. */
  public String label() {
    return norm.id() + " eps=" + formatEpsilon(epsilon);
  }

  /**
   * A radius as people write it: {@code 8/255 (0.03137)} when it is a whole number of 8-bit
   * intensity steps (within 1e-6) that has no short decimal form, else its shortest decimal ({@code
   * 0.1}, {@code 0.5}). The one formatter for stdout, report.md and plots.
   */
  public static String formatEpsilon(double epsilon) {
    if (!Double.isFinite(epsilon)) {
      return String.valueOf(epsilon);
    }
    BigDecimal exact = BigDecimal.valueOf(epsilon).stripTrailingZeros();
    double steps = epsilon * 255;
    long k = Math.round(steps);
    if (k >= 1 && Math.abs(steps - k) < 1e-6 && exact.precision() > 6) {
      return k + "/255 (" + String.format(Locale.ROOT, "%.4g", epsilon) + ")";
    }
    return exact.toPlainString();
  }
}
