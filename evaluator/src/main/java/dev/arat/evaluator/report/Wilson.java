package dev.arat.evaluator.report;

/** Wilson score intervals for a binomial proportion (Wilson, 1927). */
public final class Wilson {
  /** The normal quantile of a two-sided 95% interval. */
  public static final double Z95 = 1.959963984540054;

  private Wilson() {}

  /**
   * A confidence interval.
   *
   * @param low lower bound in {@code [0,1]}
   * @param high upper bound in {@code [0,1]}
   */
  public record Interval(double low, double high) {}

  /** The 95% Wilson interval of {@code successes} out of {@code n} ({@code [0,1]} when n is 0). */
  public static Interval interval95(int successes, int n) {
    return interval(successes, n, Z95);
  }

  /**
   * The Wilson score interval {@code (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)}.
   *
   * @param successes count in {@code [0,n]}
   * @param n trials, {@code >= 0}
   * @param z normal quantile (1.96 for 95%)
   */
  public static Interval interval(int successes, int n, double z) {
    if (n < 0 || successes < 0 || successes > n) {
      throw new IllegalArgumentException("need 0 <= successes <= n, got " + successes + " of " + n);
    }
    if (n == 0) {
      return new Interval(0, 1);
    }
    double p = (double) successes / n;
    double z2 = z * z;
    double den = 1 + z2 / n;
    double centre = (p + z2 / (2.0 * n)) / den;
    double half = z * Math.sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / den;
    return new Interval(Math.max(0, centre - half), Math.min(1, centre + half));
  }
}
