package dev.arat.attack;

import dev.arat.specs.LossHead;

/**
 * A {@link GradientClassifier} that passes every call to another one and counts it: calls, images
 * and seconds per kind ({@link ModelCalls}). How the {@link Cascade} tells where an attack spends
 * its time. Not thread-safe (attacks call their model from one thread).
 */
final class CountingClassifier implements GradientClassifier {
  private final GradientClassifier model;
  private long forwardCalls;
  private long forwardImages;
  private long forwardNanos;
  private long gradientCalls;
  private long gradientImages;
  private long gradientNanos;

  CountingClassifier(GradientClassifier model) {
    this.model = model;
  }

  @Override
  public int numClasses() {
    return model.numClasses();
  }

  @Override
  public float[] logits(ImageBatch x) {
    long t0 = System.nanoTime();
    float[] z = model.logits(x);
    forwardNanos += System.nanoTime() - t0;
    forwardCalls++;
    forwardImages += x.n();
    return z;
  }

  @Override
  public LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head) {
    long t0 = System.nanoTime();
    LossGradient g = model.lossGradient(x, labels, targets, head);
    gradientNanos += System.nanoTime() - t0;
    gradientCalls++;
    gradientImages += x.n();
    return g;
  }

  /** The calls counted so far. */
  ModelCalls calls() {
    return new ModelCalls(
        forwardCalls,
        forwardImages,
        forwardNanos / 1e9,
        gradientCalls,
        gradientImages,
        gradientNanos / 1e9);
  }
}
