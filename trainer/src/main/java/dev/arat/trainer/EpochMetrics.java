package dev.arat.trainer;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One line of a run's {@code metrics.jsonl}: what one completed epoch measured. {@link #toJson()}
 * is the one writer of the line; its keys are snake_case, in the order of the components below, and
 * a value that is not a finite number (NaN: "not measured by this method or this epoch") or a null
 * part is left out of the line.
 *
 * @param epoch the epoch, 1-based
 * @param epochs the recipe's number of epochs
 * @param globalStep optimizer steps since the start of the run, at the end of the epoch
 * @param method the recipe's method ({@code standard}, {@code pgd-at}, {@code trades}, {@code
 *     arat})
 * @param lr the learning rate of the epoch's last step
 * @param loss mean total loss per step
 * @param lossCeAdv mean adversarial cross-entropy per step
 * @param lossCeClean mean clean cross-entropy per step (ARAT, TRADES; else NaN)
 * @param lossInv mean invariance loss per step (ARAT, TRADES; else NaN)
 * @param wAdv weight of the adversarial term at the epoch's last step
 * @param wClean weight of the clean term at the epoch's last step
 * @param balanceAccuracy ARAT's auto-balance accuracy (NaN without auto-balance)
 * @param trainAccuracy accuracy on the adversarial training batches, in {@code [0,1]}
 * @param trainAccuracyCleanBn accuracy on the clean batches with the clean BN set (ARAT, TRADES)
 * @param trainImages training images seen in the epoch (by this call)
 * @param resumedAtStep the step of the epoch training started (or resumed) at
 * @param conflict the epoch's gradient-conflict measurements, null when not measured
 * @param swaSnapshots SWA snapshots averaged so far, null without SWA
 * @param evaluation the per-epoch evaluation
 * @param resources throughput, time and memory of the epoch
 */
public record EpochMetrics(
    int epoch,
    int epochs,
    long globalStep,
    String method,
    double lr,
    double loss,
    double lossCeAdv,
    double lossCeClean,
    double lossInv,
    double wAdv,
    double wClean,
    double balanceAccuracy,
    double trainAccuracy,
    double trainAccuracyCleanBn,
    long trainImages,
    int resumedAtStep,
    Conflict conflict,
    Integer swaSnapshots,
    Evaluation evaluation,
    Resources resources) {

  /**
   * The epoch's means of the {@code conflict.jsonl} measurements (ARAT-METHOD §7), written as
   * {@code grad_<key>}; NaN where no measurement had a value.
   *
   * @param measurements lines of {@code conflict.jsonl} for the epoch
   * @param cosine mean cosine between the classification and invariance gradients
   * @param conflictRatio mean fraction of conflicting parameters
   * @param normCls mean norm of the classification gradient
   * @param normInv mean norm of the invariance gradient
   * @param purifyingCosine mean cosine over the purifying layers
   * @param purifyingConflictRatio mean conflict ratio over the purifying layers
   * @param contaminatingCosine mean cosine over the contaminating layers
   * @param contaminatingConflictRatio mean conflict ratio over the contaminating layers
   * @param seconds time spent measuring, in seconds
   */
  public record Conflict(
      int measurements,
      double cosine,
      double conflictRatio,
      double normCls,
      double normInv,
      double purifyingCosine,
      double purifyingConflictRatio,
      double contaminatingCosine,
      double contaminatingConflictRatio,
      double seconds) {}

  /**
   * The per-epoch evaluation on the held-out samples.
   *
   * @param samples evaluated samples; 0 when the evaluation was not due this epoch (then the
   *     accuracies are NaN and the PGD epsilon and norm null)
   * @param cleanAccuracyAdvBn clean accuracy with the adversarial BN set, in {@code [0,1]}
   * @param cleanAccuracyCleanBn clean accuracy with the clean BN set (the adv one without split BN)
   * @param pgdAccuracy accuracy under the evaluation PGD attack
   * @param pgdSteps the evaluation PGD's steps
   * @param pgdEpsilon the evaluation PGD's radius (the recipe's attack epsilon), or null
   * @param pgdNorm the attack norm ({@code Linf}, {@code L2}), or null
   */
  public record Evaluation(
      int samples,
      double cleanAccuracyAdvBn,
      double cleanAccuracyCleanBn,
      double pgdAccuracy,
      int pgdSteps,
      Double pgdEpsilon,
      String pgdNorm) {}

  /**
   * Throughput, time and memory of one epoch (the fields that differ between otherwise identical
   * runs).
   *
   * @param imagesPerSecond training images per second
   * @param trainSeconds training time, in seconds
   * @param evalSeconds evaluation time, in seconds
   * @param epochSeconds the whole epoch, in seconds
   * @param rssMb resident set size of the process, in MiB
   * @param javaHeapCommittedMb committed Java heap, in MiB
   * @param javaHeapUsedMb used Java heap, in MiB
   */
  public record Resources(
      double imagesPerSecond,
      double trainSeconds,
      double evalSeconds,
      double epochSeconds,
      double rssMb,
      double javaHeapCommittedMb,
      double javaHeapUsedMb) {}

  /** The line's fields, by key, in line order (values left out as described above). */
  public Map<String, Object> toMap() {
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("epoch", epoch);
    line.put("epochs", epochs);
    line.put("global_step", globalStep);
    line.put("method", method);
    putNumber(line, "lr", lr);
    putNumber(line, "loss", loss);
    putNumber(line, "loss_ce_adv", lossCeAdv);
    putNumber(line, "loss_ce_clean", lossCeClean);
    putNumber(line, "loss_inv", lossInv);
    putNumber(line, "w_adv", wAdv);
    putNumber(line, "w_clean", wClean);
    putNumber(line, "balance_accuracy", balanceAccuracy);
    putNumber(line, "train_accuracy", trainAccuracy);
    putNumber(line, "train_accuracy_clean_bn", trainAccuracyCleanBn);
    line.put("train_images", trainImages);
    line.put("resumed_at_step", resumedAtStep);
    if (conflict != null) {
      line.put("conflict_measurements", conflict.measurements());
      putNumber(line, "grad_cosine", conflict.cosine());
      putNumber(line, "grad_conflict_ratio", conflict.conflictRatio());
      putNumber(line, "grad_norm_cls", conflict.normCls());
      putNumber(line, "grad_norm_inv", conflict.normInv());
      putNumber(line, "grad_purifying_cosine", conflict.purifyingCosine());
      putNumber(line, "grad_purifying_conflict_ratio", conflict.purifyingConflictRatio());
      putNumber(line, "grad_contaminating_cosine", conflict.contaminatingCosine());
      putNumber(line, "grad_contaminating_conflict_ratio", conflict.contaminatingConflictRatio());
      putNumber(line, "conflict_seconds", conflict.seconds());
    }
    if (swaSnapshots != null) {
      line.put("swa_snapshots", swaSnapshots);
    }
    line.put("eval_samples", evaluation.samples());
    putNumber(line, "clean_accuracy_adv_bn", evaluation.cleanAccuracyAdvBn());
    putNumber(line, "clean_accuracy_clean_bn", evaluation.cleanAccuracyCleanBn());
    putNumber(line, "pgd_accuracy", evaluation.pgdAccuracy());
    line.put("pgd_steps", evaluation.pgdSteps());
    if (evaluation.pgdEpsilon() != null) {
      line.put("pgd_epsilon", evaluation.pgdEpsilon());
    }
    if (evaluation.pgdNorm() != null) {
      line.put("pgd_norm", evaluation.pgdNorm());
    }
    putNumber(line, "images_per_second", resources.imagesPerSecond());
    putNumber(line, "train_seconds", resources.trainSeconds());
    putNumber(line, "eval_seconds", resources.evalSeconds());
    putNumber(line, "epoch_seconds", resources.epochSeconds());
    putNumber(line, "rss_mb", resources.rssMb());
    putNumber(line, "java_heap_committed_mb", resources.javaHeapCommittedMb());
    putNumber(line, "java_heap_used_mb", resources.javaHeapUsedMb());
    return line;
  }

  /** The line as written to {@code metrics.jsonl}: one compact JSON object, no newline. */
  public String toJson() {
    return MetricsFiles.compactJson(toMap());
  }

  private static void putNumber(Map<String, Object> line, String key, double v) {
    if (Double.isFinite(v)) {
      line.put(key, v);
    }
  }
}
