package dev.arat.attack;

import java.util.SplittableRandom;

/** Small seeded fixtures for attack tests. */
final class Fixtures {
  private Fixtures() {}

  /** {@code n} images {@code (1,h,w)} with values uniform in {@code [lo, hi]}. */
  static ImageBatch images(long seed, int n, int h, int w, double lo, double hi) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[n * h * w];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (lo + (hi - lo) * r.nextDouble());
    }
    return new ImageBatch(v, n, 1, h, w);
  }

  static long[] ids(int n, long base) {
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = base + 7L * i;
    }
    return ids;
  }

  static int[] pick(int[] a, int[] rows) {
    int[] o = new int[rows.length];
    for (int i = 0; i < rows.length; i++) {
      o[i] = a[rows[i]];
    }
    return o;
  }

  static long[] pick(long[] a, int[] rows) {
    long[] o = new long[rows.length];
    for (int i = 0; i < rows.length; i++) {
      o[i] = a[rows[i]];
    }
    return o;
  }
}
