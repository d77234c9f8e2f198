package dev.arat.attack;

import dev.arat.specs.LossHead;
import java.util.SplittableRandom;

/** A plain-Java linear classifier {@code f(x) = Wx + b} with exact input gradients, for tests. */
final class LinearClassifier implements GradientClassifier {
  final float[] w; // (K, d) row-major
  final float[] b; // (K)
  final int k;
  final int d;
  int gradientCalls;

  LinearClassifier(float[] w, float[] b, int k, int d) {
    this.w = w;
    this.b = b;
    this.k = k;
    this.d = d;
  }

  /** Random weights N(0, sigma^2), zero bias. */
  static LinearClassifier random(long seed, int k, int d, double sigma) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] w = new float[k * d];
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (sigma * AbstractAttack.gaussian(r));
    }
    return new LinearClassifier(w, new float[k], k, d);
  }

  @Override
  public int numClasses() {
    return k;
  }

  @Override
  public float[] logits(ImageBatch x) {
    int n = x.n();
    float[] z = new float[n * k];
    float[] xs = x.data();
    for (int i = 0; i < n; i++) {
      for (int c = 0; c < k; c++) {
        double s = b[c];
        for (int j = 0; j < d; j++) {
          s += (double) w[c * d + j] * xs[i * d + j];
        }
        z[i * k + c] = (float) s;
      }
    }
    return z;
  }

  @Override
  public LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head) {
    gradientCalls++;
    float[] z = logits(x);
    float[] losses = LossHeads.value(head, z, k, labels, targets);
    float[] gz = LossHeads.logitGradient(head, z, k, labels, targets);
    int n = x.n();
    float[] g = new float[n * d];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < d; j++) {
        double s = 0;
        for (int c = 0; c < k; c++) {
          s += (double) gz[i * k + c] * w[c * d + j];
        }
        g[i * d + j] = (float) s;
      }
    }
    return new LossGradient(z, losses, g);
  }
}
