package dev.arat.deploy;

/**
 * Histogram of a tensor's magnitudes {@code |x|} over the calibration images: {@code counts.length}
 * equal bins over {@code [0, max]}.
 *
 * @param max the largest {@code |x|} seen (0 if all values were 0)
 * @param counts values per bin; a value equal to {@code max} falls in the last bin
 */
public record Histogram(float max, long[] counts) {
  /** Bins of the calibration histograms (as NVIDIA's histogram calibrator). */
  public static final int BINS = 2048;

  /** Number of values counted. */
  public long total() {
    long t = 0;
    for (long c : counts) {
      t += c;
    }
    return t;
  }

  /** The {@code i}-th bin edge, {@code max * i / bins} ({@code 0 <= i <= bins}). */
  public float edge(int i) {
    return (float) ((double) max * i / counts.length);
  }

  /** Adds {@code |v|} of each value to {@code counts}, binned over {@code [0, max]}. */
  static void add(long[] counts, float max, float[] values) {
    int bins = counts.length;
    if (max <= 0) {
      counts[0] += values.length;
      return;
    }
    double perUnit = bins / (double) max;
    for (float v : values) {
      int b = (int) (Math.abs(v) * perUnit);
      counts[Math.min(bins - 1, Math.max(0, b))]++;
    }
  }
}
