package dev.arat.specs;

import java.util.Map;

/**
 * Where a training run stands when a checkpoint is written, so {@code --resume} continues it.
 *
 * @param epoch completed epochs (1-based count; 0 before the first epoch ends)
 * @param stepInEpoch optimizer steps already taken in the current, unfinished epoch (0 at an
 *     epoch boundary)
 * @param globalStep optimizer steps taken since the start of the run
 * @param balanceAccuracy the last measured clean-branch accuracy {@code a} of ARAT's auto-balance
 * @param imagesSinceBalance training images seen since {@code a} was last measured
 * @param provenance tool, library and data versions and hashes, copied into exported models
 */
public record TrainingState(
    int epoch,
    int stepInEpoch,
    long globalStep,
    double balanceAccuracy,
    long imagesSinceBalance,
    Map<String, String> provenance) {
  /** Copies the provenance map. */
  public TrainingState {
    provenance = provenance == null ? Map.of() : Map.copyOf(provenance);
  }
}
