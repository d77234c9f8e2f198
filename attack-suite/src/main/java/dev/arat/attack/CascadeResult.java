package dev.arat.attack;

import java.util.List;
import java.util.Map;

/**
 * The outcome of a {@link Cascade}: clean predictions, per-sample robust flags and records,
 * per-attack statistics and budget violations.
 *
 * @param samples per-sample outcomes, in input order
 * @param attacks per-attack statistics, in cascade order (skipped attacks included)
 * @param violations every candidate that broke the budget (never counted as a success)
 * @param adversarial float32 {@code (N,C,H,W)}: the counted adversarial point of each broken
 *     sample, the lowest-margin valid candidate of each robust sample, the clean image otherwise
 */
public record CascadeResult(
    List<SampleOutcome> samples,
    List<AttackStats> attacks,
    List<Violation> violations,
    ImageBatch adversarial) {

  /** Copies the lists. */
  public CascadeResult {
    samples = List.copyOf(samples);
    attacks = List.copyOf(attacks);
    violations = List.copyOf(violations);
  }

  /** Number of samples. */
  public int size() {
    return samples.size();
  }

  /** Number of samples the deployed model classifies correctly before any attack. */
  public int cleanCorrect() {
    return (int) samples.stream().filter(SampleOutcome::cleanCorrect).count();
  }

  /** Number of samples still robust after the whole cascade. */
  public int robustCount() {
    return (int) samples.stream().filter(SampleOutcome::robust).count();
  }

  /**
   * What happened to one sample.
   *
   * @param sampleId the id the sample was given (e.g. its dataset index)
   * @param label the true class
   * @param cleanPrediction the deployed model's class on the clean image
   * @param robust clean-correct and not broken by any attack
   * @param brokenBy name of the attack whose candidate was counted, or null
   * @param attackIndex index of that attack in the cascade, or -1
   * @param iteration iteration of that attack's success (as the attack reports it), or -1
   * @param prediction the deployed model's class at the final point
   * @param linf Linf norm of the final point minus the clean image
   * @param l2 L2 norm of the final point minus the clean image
   * @param margin {@code z_y - max_{j != y} z_j} of the deployed model at the final point: for a
   *     broken sample its counted adversarial point, for a robust sample its lowest-margin valid
   *     candidate (the clean image if none), for a clean-misclassified sample the clean image
   */
  public record SampleOutcome(
      long sampleId,
      int label,
      int cleanPrediction,
      boolean robust,
      String brokenBy,
      int attackIndex,
      int iteration,
      int prediction,
      double linf,
      double l2,
      double margin) {
    /** Whether the clean image is classified correctly. */
    public boolean cleanCorrect() {
      return cleanPrediction == label;
    }
  }

  /**
   * Statistics of one attack of the cascade.
   *
   * @param index position in the cascade
   * @param name the attack's name
   * @param settings every setting as used
   * @param attempted samples the attack ran on (those still robust before it)
   * @param successes samples it broke (confirmed on the deployed model, within budget)
   * @param unconfirmed successes the attack claimed that the deployed model did not confirm
   * @param violations candidates outside the budget (rejected)
   * @param robustAfter samples still robust after this attack (cumulative)
   * @param seconds wall-clock time spent
   * @param calls what the attack asked of the attacked model (re-scoring on the deployed model not
   *     included)
   * @param skipped true when nothing was left to attack, or the attack was not run ({@link
   *     Cascade#withoutAttacks()})
   */
  public record AttackStats(
      int index,
      String name,
      Map<String, Object> settings,
      int attempted,
      int successes,
      int unconfirmed,
      int violations,
      int robustAfter,
      double seconds,
      ModelCalls calls,
      boolean skipped) {}

  /**
   * A candidate that broke the budget.
   *
   * @param attackIndex position of the attack in the cascade
   * @param attack the attack's name
   * @param sampleId the sample's id
   * @param linf Linf norm of the perturbation (NaN if the candidate holds NaN)
   * @param l2 L2 norm of the perturbation
   * @param reason what was wrong, e.g. {@code Linf norm 0.12 > eps 0.1}
   * @param misclassified whether the deployed model misclassified it (it still does not count)
   */
  public record Violation(
      int attackIndex,
      String attack,
      long sampleId,
      double linf,
      double l2,
      String reason,
      boolean misclassified) {}
}
