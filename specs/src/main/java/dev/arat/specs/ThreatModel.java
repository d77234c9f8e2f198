package dev.arat.specs;

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
      throw new IllegalArgumentException("epsilon: must be at most 1 for Linf (pixels are in [0,1], so no"
          + " two images are further apart), was " + epsilon);
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

  /** A short human label such as {@code Linf eps=0.1}. */
  public String label() {
    return norm.id() + " eps=" + epsilon;
  }
}
