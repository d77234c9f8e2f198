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
  }

  /** A short human label such as {@code Linf eps=0.1}. */
  public String label() {
    return norm.id() + " eps=" + epsilon;
  }
}
