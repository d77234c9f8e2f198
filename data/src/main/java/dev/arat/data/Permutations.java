package dev.arat.data;

import java.util.SplittableRandom;

/** Seeded permutations: the same seed always gives the same order, on any machine. */
public final class Permutations {
  private Permutations() {}

  /** A Fisher-Yates permutation of {@code 0..n-1} drawn from {@code seed}. */
  public static int[] of(int n, long seed) {
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    SplittableRandom rng = new SplittableRandom(seed);
    for (int i = n - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /**
   * The first {@code k} entries of {@link #of}{@code (n, seed)} (all of them if k >= n or k == 0).
   */
  public static int[] firstOf(int n, int k, long seed) {
    int[] p = of(n, seed);
    int m = (k <= 0 || k >= n) ? n : k;
    int[] out = new int[m];
    System.arraycopy(p, 0, out, 0, m);
    return out;
  }
}
