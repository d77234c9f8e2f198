package dev.arat.evaluator;

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

  /** The {@code p}-quantile of Beta(a, b), by bisection on the regularised incomplete beta. */
  static double betaQuantile(double p, double a, double b) {
    double lo = 0;
    double hi = 1;
    for (int i = 0; i < 200 && hi - lo > 1e-15; i++) {
      double mid = (lo + hi) / 2;
      if (regularizedBeta(mid, a, b) < p) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    return (lo + hi) / 2;
  }

  /** The regularised incomplete beta function {@code I_x(a, b)} (continued fraction, Lentz). */
  static double regularizedBeta(double x, double a, double b) {
    if (x <= 0) {
      return 0;
    }
    if (x >= 1) {
      return 1;
    }
    double front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
    if (x < (a + 1) / (a + b + 2)) {
      return front * continuedFraction(x, a, b) / a;
    }
    return 1 - front * continuedFraction(1 - x, b, a) / b;
  }

  private static double continuedFraction(double x, double a, double b) {
    final double tiny = 1e-300;
    double c = 1;
    double d = 1 - (a + b) * x / (a + 1);
    d = Math.abs(d) < tiny ? tiny : d;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
      int m2 = 2 * m;
      double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
      d = 1 + num * d;
      d = Math.abs(d) < tiny ? tiny : d;
      c = 1 + num / c;
      c = Math.abs(c) < tiny ? tiny : c;
      d = 1 / d;
      h *= d * c;
      num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
      d = 1 + num * d;
      d = Math.abs(d) < tiny ? tiny : d;
      c = 1 + num / c;
      c = Math.abs(c) < tiny ? tiny : c;
      d = 1 / d;
      double delta = d * c;
      h *= delta;
      if (Math.abs(delta - 1) < 1e-15) {
        break;
      }
    }
    return h;
  }

  /** log Gamma(x) for x > 0 (Lanczos approximation, g = 7, n = 9). */
  static double logGamma(double x) {
    final double[] g = {0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
        -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
        1.5056327351493116e-7};
    if (x < 0.5) {
      return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
    }
    x -= 1;
    double s = g[0];
    for (int i = 1; i < 9; i++) {
      s += g[i] / (x + i);
    }
    double t = x + 7.5;
    return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(s);
  }
}
