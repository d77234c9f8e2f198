package dev.arat.evaluator;

import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.ThreatModel;
import java.util.List;
import java.util.Map;

/**
 * The result of an evaluation, written as {@code report.json} (snake_case, via {@link
 * ReportWriter}) and summarised in {@code report.md}. Accuracies are fractions in {@code [0,1]} of
 * the {@code samples} evaluated; intervals are 95% Wilson intervals.
 *
 * @param schemaVersion version of this layout ({@link #SCHEMA_VERSION})
 * @param tool name and versions of the software that measured
 * @param model the evaluated ONNX file: path, SHA-256, its {@code metadata_props}, input shape
 * @param suite the suite's name and every setting
 * @param dataset the dataset, split, location and SHA-256 of the chosen samples
 * @param samples number of samples evaluated
 * @param sampleIndices dataset indices of the samples, in evaluation order
 * @param seed the suite seed (sample choice and attack seeds derive from it)
 * @param threatModel the budget
 * @param cleanCorrect samples classified correctly before any attack
 * @param cleanAccuracy {@code cleanCorrect / samples}
 * @param cleanAccuracyCi95 its 95% Wilson interval
 * @param robustCount samples robust after the whole cascade
 * @param robustAccuracy {@code robustCount / samples}
 * @param robustAccuracyCi95 its 95% Wilson interval
 * @param attacks per-attack results in cascade order
 * @param violations candidates rejected for breaking the budget (non-empty means untrusted)
 * @param maxPerturbation largest norms over the counted successes
 * @param perSample one entry per sample
 * @param gates gate checks
 * @param trusted true when nothing makes the measurement untrustworthy (no budget violation)
 * @param passed {@code trusted} and every gate passed
 * @param diagnostics notes about the model and the run (e.g. a final Softmax that was skipped)
 * @param durationSeconds wall-clock time of the whole evaluation
 */
public record Report(
    int schemaVersion,
    Tool tool,
    ModelInfo model,
    SuiteInfo suite,
    DatasetInfo dataset,
    int samples,
    List<Integer> sampleIndices,
    long seed,
    ThreatModel threatModel,
    int cleanCorrect,
    double cleanAccuracy,
    Interval cleanAccuracyCi95,
    int robustCount,
    double robustAccuracy,
    Interval robustAccuracyCi95,
    List<AttackEntry> attacks,
    List<ViolationEntry> violations,
    MaxPerturbation maxPerturbation,
    List<SampleEntry> perSample,
    List<Gate> gates,
    boolean trusted,
    boolean passed,
    List<String> diagnostics,
    double durationSeconds) {

  /** The current layout version of {@code report.json}. */
  public static final int SCHEMA_VERSION = 1;

  /** Copies the lists. */
  public Report {
    sampleIndices = List.copyOf(sampleIndices);
    attacks = List.copyOf(attacks);
    violations = List.copyOf(violations);
    perSample = List.copyOf(perSample);
    gates = List.copyOf(gates);
    diagnostics = List.copyOf(diagnostics);
  }

  /** The gate named {@code name}, or null. */
  public Gate gate(String name) {
    return gates.stream().filter(g -> g.name().equals(name)).findFirst().orElse(null);
  }

  /**
   * Software versions.
   *
   * @param name {@code arat}
   * @param version arat's version
   * @param onnxruntime ONNX Runtime's version, or null when no ORT session was used
   * @param java the Java runtime version
   */
  public record Tool(String name, String version, String onnxruntime, String java) {}

  /**
   * The evaluated model.
   *
   * @param path the file as given
   * @param sha256 SHA-256 (hex) of the file's bytes
   * @param metadata the ONNX {@code metadata_props}
   * @param inputShape {@code [-1, C, H, W]}
   * @param numClasses K
   */
  public record ModelInfo(String path, String sha256, Map<String, String> metadata, List<Long> inputShape, int numClasses) {}

  /**
   * The suite.
   *
   * @param name its name
   * @param settings every setting as loaded (defaults applied)
   */
  public record SuiteInfo(String name, EvaluationSuite settings) {}

  /**
   * The data.
   *
   * @param name dataset name
   * @param split {@code test}
   * @param path the folder read, or null for built-in or default locations
   * @param testSize images in the split
   * @param samplesSha256 SHA-256 of the chosen samples' pixels and labels, in order
   */
  public record DatasetInfo(String name, String split, String path, int testSize, String samplesSha256) {}

  /**
   * A 95% confidence interval.
   *
   * @param low lower bound
   * @param high upper bound
   */
  public record Interval(double low, double high) {}

  /**
   * One attack of the cascade.
   *
   * @param index position in the cascade
   * @param name e.g. {@code pgd-20-ce}
   * @param settings every setting as used (step size, seed, implementation...)
   * @param attempted samples it ran on (still robust before it)
   * @param successes samples it broke (confirmed on the deployed model, within budget)
   * @param unconfirmed successes it claimed that the deployed model did not confirm
   * @param violations candidates it produced outside the budget
   * @param robustAfter robust samples after it (cumulative)
   * @param robustAccuracyAfter {@code robustAfter / samples}
   * @param seconds wall-clock time
   * @param skipped true when nothing was left to attack
   */
  public record AttackEntry(
      int index,
      String name,
      Map<String, Object> settings,
      int attempted,
      int successes,
      int unconfirmed,
      int violations,
      int robustAfter,
      double robustAccuracyAfter,
      double seconds,
      boolean skipped) {}

  /**
   * A rejected candidate.
   *
   * @param attackIndex position of the attack
   * @param attack its name
   * @param sampleIndex dataset index of the sample
   * @param linf Linf norm of the perturbation (null if NaN)
   * @param l2 L2 norm of the perturbation (null if NaN)
   * @param reason what broke the budget
   * @param misclassified whether the deployed model misclassified it (it did not count)
   */
  public record ViolationEntry(
      int attackIndex, String attack, long sampleIndex, Double linf, Double l2, String reason, boolean misclassified) {}

  /**
   * Largest perturbation norms over counted successes (0 when there is none).
   *
   * @param linf largest Linf norm
   * @param l2 largest L2 norm
   */
  public record MaxPerturbation(double linf, double l2) {}

  /**
   * One sample.
   *
   * @param index dataset index
   * @param label true class
   * @param cleanPred the model's class on the clean image
   * @param robust clean-correct and not broken
   * @param brokenBy the attack whose candidate was counted (absent if none)
   * @param attackIndex its position, or -1
   * @param iteration iteration of its success as the attack counts it, or -1
   * @param prediction the model's class at the final point
   * @param linf Linf norm of the final point's perturbation
   * @param l2 L2 norm of the final point's perturbation
   * @param margin true logit minus best other logit at the final point (broken: the counted
   *     adversarial point; robust: the lowest-margin valid candidate; clean-wrong: the clean image)
   */
  public record SampleEntry(
      long index,
      int label,
      int cleanPred,
      boolean robust,
      String brokenBy,
      int attackIndex,
      int iteration,
      int prediction,
      double linf,
      double l2,
      Double margin) {}

  /**
   * One gate.
   *
   * @param name {@code min_clean_accuracy} or {@code min_robust_accuracy}
   * @param threshold the lowest acceptable value
   * @param value the measured value
   * @param passed {@code value >= threshold}
   */
  public record Gate(String name, double threshold, double value, boolean passed) {}
}
