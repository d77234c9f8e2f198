package dev.arat.attack;

/**
 * What an attack asked of the attacked model: calls, the images in them and the wall-clock time
 * spent inside them, for forward (logits) and gradient (logits, loss and input gradient) calls
 * apart. The image counts depend only on the samples and seeds; call counts also depend on how
 * samples were batched (a shard or a resumed run batches differently); the seconds are timing.
 *
 * @param forwardCalls {@link Classifier#logits} calls
 * @param forwardImages images in those calls
 * @param forwardSeconds seconds spent in those calls
 * @param gradientCalls {@link GradientClassifier#lossGradient} calls
 * @param gradientImages images in those calls
 * @param gradientSeconds seconds spent in those calls
 */
public record ModelCalls(
    long forwardCalls,
    long forwardImages,
    double forwardSeconds,
    long gradientCalls,
    long gradientImages,
    double gradientSeconds) {
  /** No call at all. */
  public static final ModelCalls NONE = new ModelCalls(0, 0, 0, 0, 0, 0);

  /** The sum of this and {@code other}. */
  public ModelCalls plus(ModelCalls other) {
    return new ModelCalls(
        forwardCalls + other.forwardCalls,
        forwardImages + other.forwardImages,
        forwardSeconds + other.forwardSeconds,
        gradientCalls + other.gradientCalls,
        gradientImages + other.gradientImages,
        gradientSeconds + other.gradientSeconds);
  }

  /**
   * Only the image counts, calls and seconds set to 0: what stays equal between runs of the same
   * samples however they were batched (a single run, a resumed run, a merge of shards).
   */
  public ModelCalls imagesOnly() {
    return new ModelCalls(0, forwardImages, 0, 0, gradientImages, 0);
  }
}
