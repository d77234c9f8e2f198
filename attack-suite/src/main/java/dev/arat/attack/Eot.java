package dev.arat.attack;

import dev.arat.specs.LossHead;

/**
 * Expectation over Transformation for randomised models (Athalye, Carlini and Wagner, "Obfuscated
 * Gradients Give a False Sense of Security", ICML 2018; the "rand" version of AutoAttack,
 * reference/ATTACKS.md §10.5): a {@link GradientClassifier} whose input gradient is the mean of
 * {@code iterations} independent forward/backward passes of the wrapped model. Logits and losses
 * come from the <em>last</em> pass, as in the reference, and are what the attack's bookkeeping
 * (best loss, success) sees. {@link #logits} is a single pass.
 *
 * <p>Any randomness is the wrapped model's own; this class draws nothing. With a deterministic
 * model it only multiplies the cost by {@code iterations}, so attacks wrap only when asked ({@code
 * eot_iter > 1}), which should be when the randomness check fires.
 */
public final class Eot implements GradientClassifier {
  private final GradientClassifier model;
  private final int iterations;

  /**
   * Wraps a model.
   *
   * @param model the (randomised) model
   * @param iterations passes averaged per gradient, {@code >= 1}
   */
  public Eot(GradientClassifier model, int iterations) {
    if (model == null) {
      throw new IllegalArgumentException("eot: model required");
    }
    if (iterations < 1) {
      throw new IllegalArgumentException("eot_iter: must be >= 1, was " + iterations);
    }
    this.model = model;
    this.iterations = iterations;
  }

  /** {@code model} itself when {@code iterations == 1}, else the wrapper. */
  public static GradientClassifier wrap(GradientClassifier model, int iterations) {
    return iterations == 1 ? model : new Eot(model, iterations);
  }

  /** Passes averaged per gradient. */
  public int iterations() {
    return iterations;
  }

  @Override
  public int numClasses() {
    return model.numClasses();
  }

  @Override
  public float[] logits(ImageBatch x) {
    return model.logits(x);
  }

  /**
   * The mean gradient over {@code iterations} passes; logits and losses of the last pass.
   *
   * @param x images, float32 {@code (N,C,H,W)} in {@code [0,1]}
   * @param labels true classes {@code (N)}
   * @param targets target classes {@code (N)} for targeted heads, otherwise null
   * @param head the loss head
   * @return logits {@code (N,K)} and losses {@code (N)} of the last pass, mean gradient {@code
   *     (N,C,H,W)}
   */
  @Override
  public LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head) {
    double[] sum = null;
    LossGradient last = null;
    for (int r = 0; r < iterations; r++) {
      last = model.lossGradient(x, labels, targets, head);
      float[] g = last.gradient();
      if (sum == null) {
        sum = new double[g.length];
      }
      for (int j = 0; j < g.length; j++) {
        sum[j] += g[j];
      }
    }
    float[] mean = new float[sum.length];
    for (int j = 0; j < mean.length; j++) {
      mean[j] = (float) (sum[j] / iterations);
    }
    return new LossGradient(last.logits(), last.losses(), mean);
  }
}
