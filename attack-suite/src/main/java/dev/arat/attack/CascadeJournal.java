package dev.arat.attack;

import java.util.List;

/**
 * A per-sample record of what a {@link Cascade} did, so that an interrupted evaluation resumes
 * where it stopped and shards of one evaluation merge into the result of a single run.
 *
 * <p>The cascade asks the journal before computing anything: a sample whose clean outcome, or whose
 * attempt by attack {@code a}, is already recorded is replayed from the record instead of being
 * recomputed. After each batch it computes, the cascade hands the batch's records to the journal
 * (an implementation should make them durable before returning, e.g. append and fsync). Replaying
 * records gives exactly the statistics a fresh run gives, because every sample's outcome depends
 * only on the attack seed and the sample id ({@link Seeds#forSample}). A journal whose records
 * cover everything lets the cascade run without ever calling a model (a merge).
 *
 * <p>Implementations are engine-free and used from one thread.
 */
public interface CascadeJournal {
  /** The recorded clean outcome of {@code sampleId}, or null when it must be computed. */
  Clean clean(long sampleId);

  /** The recorded attempt of attack {@code attackIndex} on {@code sampleId}, or null. */
  Attempt attempt(int attackIndex, long sampleId);

  /**
   * What earlier runs recorded attack {@code attackIndex} to have spent ({@link Spent#NONE} if
   * none).
   */
  default Spent recorded(int attackIndex) {
    return Spent.NONE;
  }

  /** Records the clean outcomes of one computed batch. */
  void recordClean(List<Clean> batch, double seconds);

  /** Records the attempts of attack {@code attackIndex} on one computed batch and what it spent. */
  void recordAttempts(int attackIndex, List<Attempt> batch, Spent spent);

  /**
   * Receives the adversarial images of the samples attack {@code attackIndex} broke in one computed
   * batch (re-scored misclassified and within budget), before that batch's {@link #recordAttempts};
   * a journal that keeps evidence stores them. Default: ignored.
   *
   * @param attackIndex the attack's position in the cascade
   * @param sampleIds the broken samples' ids
   * @param images their adversarial images, float32 {@code (sampleIds.length, C, H, W)}
   */
  default void recordAdversarial(int attackIndex, long[] sampleIds, ImageBatch images) {}

  /**
   * The clean outcome of one sample on the deployed model.
   *
   * @param sampleId the sample's id
   * @param label its true class
   * @param prediction the deployed model's class on the clean image
   * @param margin {@code z_y - max_{j != y} z_j} on the clean image
   */
  record Clean(long sampleId, int label, int prediction, double margin) {}

  /**
   * One attack's candidate for one sample, as re-scored and budget-checked by the cascade.
   *
   * @param sampleId the sample's id
   * @param prediction the deployed model's class at the candidate
   * @param claimed whether the attack reported success (on the attacked model)
   * @param iteration the iteration the attack reported for the candidate (-1 if none)
   * @param linf Linf norm of candidate minus clean image (NaN if the candidate holds NaN)
   * @param l2 L2 norm of candidate minus clean image
   * @param margin {@code z_y - max_{j != y} z_j} of the deployed model at the candidate
   * @param violation why the candidate breaks the budget, or null when it respects it
   */
  record Attempt(
      long sampleId,
      int prediction,
      boolean claimed,
      int iteration,
      double linf,
      double l2,
      double margin,
      String violation) {}

  /**
   * What computing some batches of an attack cost.
   *
   * @param seconds wall-clock seconds
   * @param calls the model calls the attack made
   */
  record Spent(double seconds, ModelCalls calls) {
    /** Nothing spent. */
    public static final Spent NONE = new Spent(0, ModelCalls.NONE);

    /** The sum of this and {@code other}. */
    public Spent plus(Spent other) {
      return new Spent(seconds + other.seconds, calls.plus(other.calls));
    }
  }
}
