package dev.arat.attack;

/**
 * A classifier as attacks see it: images in, logits out. Implementations decide the model mode (for
 * example which BN branch and whether BN uses batch statistics); attacks never do.
 */
public interface Classifier {
  /** Number of classes K. */
  int numClasses();

  /**
   * Computes logits.
   *
   * @param x images, float32 {@code (N,C,H,W)} in {@code [0,1]}
   * @return logits, float32 {@code (N,K)} row-major (not probabilities)
   */
  float[] logits(ImageBatch x);

  /** Index of the largest logit of each row of {@code (N,K)} logits; the first one at ties. */
  static int[] argmax(float[] logits, int k) {
    int n = logits.length / k;
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      int best = 0;
      for (int j = 1; j < k; j++) {
        if (logits[i * k + j] > logits[i * k + best]) {
          best = j;
        }
      }
      out[i] = best;
    }
    return out;
  }
}
