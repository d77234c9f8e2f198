package dev.arat.attack;

import dev.arat.specs.LossHead;

/** A classifier that also gives input gradients of a loss head: what white-box attacks need. */
public interface GradientClassifier extends Classifier {
  /**
   * Computes logits, per-sample losses and the input gradient in one call.
   *
   * @param x images, float32 {@code (N,C,H,W)} in {@code [0,1]}
   * @param labels true classes {@code (N)}
   * @param targets target classes {@code (N)} for targeted heads, otherwise null
   * @param head the loss head (see {@link LossHead}); attacks ascend it
   * @return logits {@code (N,K)}, losses {@code (N)}, gradient {@code (N,C,H,W)} of their sum
   */
  LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head);
}
