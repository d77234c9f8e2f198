package dev.arat.specs;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where a training run stands when a checkpoint is written, so {@code --resume} continues it.
 *
 * @param epoch completed epochs (1-based count; 0 before the first epoch ends)
 * @param stepInEpoch optimizer steps already taken in the current, unfinished epoch (0 at an epoch
 *     boundary)
 * @param globalStep optimizer steps taken since the start of the run
 * @param balanceAccuracy the last measured clean-branch accuracy {@code a} of ARAT's auto-balance,
 *     in {@code [0,1]}, or -1 before the first measurement
 * @param imagesSinceBalance training images seen since {@code a} was last measured
 * @param provenance tool, library and data versions and hashes, copied into exported models
 * @param swaSnapshots parameter snapshots averaged into the SWA model so far (0 without SWA; the
 *     averaged tensors travel in the checkpoint's optimizer state under {@code swa.} names)
 */
public record TrainingState(
    int epoch,
    int stepInEpoch,
    long globalStep,
    double balanceAccuracy,
    long imagesSinceBalance,
    Map<String, String> provenance,
    Integer swaSnapshots) {
  /**
   * Validates the counters (none negative) and copies the provenance map sorted by key (so
   * state.json and exports are the same bytes in every JVM); no SWA snapshots when absent.
   */
  public TrainingState {
    provenance =
        provenance == null
            ? Map.of()
            : Collections.unmodifiableSortedMap(new TreeMap<>(provenance));
    swaSnapshots = swaSnapshots == null ? 0 : swaSnapshots;
    nonNegative("epoch", epoch);
    nonNegative("step_in_epoch", stepInEpoch);
    nonNegative("global_step", globalStep);
    nonNegative("images_since_balance", imagesSinceBalance);
    nonNegative("swa_snapshots", swaSnapshots);
    if (!(balanceAccuracy == -1 || (balanceAccuracy >= 0 && balanceAccuracy <= 1))) {
      throw new IllegalArgumentException(
          "balance_accuracy: must be in [0,1] (or -1 before the first"
              + " measurement), was "
              + balanceAccuracy);
    }
  }

  private static void nonNegative(String field, long value) {
    if (value < 0) {
      throw new IllegalArgumentException(field + ": must be >= 0, was " + value);
    }
  }

  /** The six-field form (no SWA). */
  public TrainingState(
      int epoch,
      int stepInEpoch,
      long globalStep,
      double balanceAccuracy,
      long imagesSinceBalance,
      Map<String, String> provenance) {
    this(epoch, stepInEpoch, globalStep, balanceAccuracy, imagesSinceBalance, provenance, 0);
  }
}
