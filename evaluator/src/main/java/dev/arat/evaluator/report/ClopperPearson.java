package dev.arat.evaluator.report;

import org.apache.commons.statistics.distribution.BetaDistribution;

/**
 * Clopper-Pearson ("exact") intervals for a binomial proportion (Clopper and Pearson, 1934): the
 * bounds are Beta quantiles, {@code low = B(a/2; x, n-x+1)} and {@code high = B(1-a/2; x+1, n-x)}.
 * Never narrower than the nominal coverage, hence more conservative than {@link Wilson}.
 */
public final class ClopperPearson {
  private ClopperPearson() {}

  /** The 95% interval of {@code successes} out of {@code n} ({@code [0,1]} when n is 0). */
  public static Wilson.Interval interval95(int successes, int n) {
    return interval(successes, n, 0.05);
  }

  /**
   * The two-sided {@code 1 - alpha} interval.
   *
   * @param successes count in {@code [0,n]}
   * @param n trials, {@code >= 0}
   * @param alpha in {@code (0,1)}, e.g. 0.05
   */
  public static Wilson.Interval interval(int successes, int n, double alpha) {
    if (n < 0 || successes < 0 || successes > n) {
      throw new IllegalArgumentException("need 0 <= successes <= n, got " + successes + " of " + n);
    }
    if (!(alpha > 0 && alpha < 1)) {
      throw new IllegalArgumentException("alpha: must be in (0,1), was " + alpha);
    }
    if (n == 0) {
      return new Wilson.Interval(0, 1);
    }
    double low = successes == 0 ? 0 : betaQuantile(alpha / 2, successes, n - successes + 1);
    double high = successes == n ? 1 : betaQuantile(1 - alpha / 2, successes + 1, n - successes);
    return new Wilson.Interval(low, high);
  }

  /** The {@code p}-quantile of Beta(a, b) (Apache Commons Statistics). */
  static double betaQuantile(double p, double a, double b) {
    return BetaDistribution.of(a, b).inverseCumulativeProbability(p);
  }
}
