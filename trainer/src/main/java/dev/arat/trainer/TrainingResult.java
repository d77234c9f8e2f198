package dev.arat.trainer;

import java.nio.file.Path;

/**
 * What {@link Trainer#train} leaves behind.
 *
 * @param runDir the run folder ({@code metrics.jsonl}, {@code recipe.yaml}, {@code checkpoints/})
 * @param lastCheckpoint the newest checkpoint folder written (or resumed from), null if none
 * @param epochsCompleted completed epochs
 * @param globalStep optimizer steps taken since the start of the run
 * @param interrupted whether the run stopped early on request (a checkpoint was written first)
 * @param lastMetrics the last epoch's metrics line, null if no epoch completed in this call
 * @param swaCheckpoint the SWA model's checkpoint folder ({@code RUN/swa}) written by this call, or
 *     null
 */
public record TrainingResult(
    Path runDir,
    Path lastCheckpoint,
    int epochsCompleted,
    long globalStep,
    boolean interrupted,
    EpochMetrics lastMetrics,
    Path swaCheckpoint) {}
