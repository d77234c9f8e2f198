package dev.arat.bench;

import java.util.Arrays;

/**
 * Summary of repeated timings (seconds): mean ± sample standard deviation, and median with the
 * interquartile range (linear interpolation between order statistics).
 *
 * @param n number of timed repetitions
 * @param mean arithmetic mean
 * @param std sample standard deviation (0 for one sample)
 * @param median the median
 * @param q1 first quartile
 * @param q3 third quartile
 * @param min smallest sample
 * @param max largest sample
 */
public record Stats(
    int n, double mean, double std, double median, double q1, double q3, double min, double max) {

  /** Summarises {@code samples} (at least one). */
  public static Stats of(double[] samples) {
    if (samples.length == 0) {
      throw new IllegalArgumentException("no samples");
    }
    double[] s = samples.clone();
    Arrays.sort(s);
    double mean = 0;
    for (double v : s) {
      mean += v / s.length;
    }
    double ss = 0;
    for (double v : s) {
      ss += (v - mean) * (v - mean);
    }
    double std = s.length > 1 ? Math.sqrt(ss / (s.length - 1)) : 0;
    return new Stats(
        s.length,
        mean,
        std,
        quantile(s, 0.5),
        quantile(s, 0.25),
        quantile(s, 0.75),
        s[0],
        s[s.length - 1]);
  }

  private static double quantile(double[] sorted, double q) {
    double pos = q * (sorted.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(sorted.length - 1, lo + 1);
    double f = pos - lo;
    return sorted[lo] * (1 - f) + sorted[hi] * f;
  }
}
