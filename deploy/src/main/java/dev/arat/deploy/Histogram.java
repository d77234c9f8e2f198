package dev.arat.deploy;

/**
 * Histogram of a tensor's non-zero magnitudes {@code |x|} over the calibration images: {@code
 * counts.length} equal bins over {@code [0, max]}.
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

  /**
   * Adds {@code |v|} of each non-zero value to {@code counts}, binned over {@code [0, max]}. Exact
   * zeros (most ReLU outputs) are skipped, as NVIDIA's histogram calibrator's {@code skip_zeros}:
   * they say nothing about the range, and a spike at 0 would drive the entropy method's threshold
   * far down (its 128-level quantization merges the spike with its neighbours).
   */
  static void add(long[] counts, float max, float[] values) {
    int bins = counts.length;
    if (max <= 0) {
      return;
    }
    double perUnit = bins / (double) max;
    for (float v : values) {
      if (v == 0) {
        continue;
      }
      int b = (int) (Math.abs(v) * perUnit);
      counts[Math.min(bins - 1, Math.max(0, b))]++;
    }
  }
}
