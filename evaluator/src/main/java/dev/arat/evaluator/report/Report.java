package dev.arat.evaluator.report;

import dev.arat.evaluator.Shard;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.ThreatModel;
import java.util.List;
import java.util.Map;

/**
 * The result of an evaluation, written as {@code report.json} (snake_case, via {@link ReportFiles})
 * and summarised in {@code report.md}; {@link ReportAssembler} builds it from cascade results.
 * Accuracies are fractions in {@code [0,1]} of the {@code samples} evaluated; intervals are 95%
 * Wilson intervals. The layout is documented in {@code docs/report-schema.md}; {@link
 * #SCHEMA_VERSION} 2 adds the shard, per-class, sweep, baseline and structured-diagnostic fields
 * and the gate details to version 1 (every version-1 field keeps its name and meaning).
 *
 * @param schemaVersion version of this layout ({@link #SCHEMA_VERSION})
 * @param tool name and versions of the software that measured
 * @param model the evaluated ONNX file: path, SHA-256, its {@code metadata_props}, input shape
 * @param suite the suite's name and every setting
 * @param dataset the dataset, split, location and SHA-256 of the chosen samples (all of them, also
 *     in a shard's report)
 * @param shard the shard this report covers, or null for a whole evaluation (single run or merge)
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
 * @param perClass robust accuracy per true class (classes with at least one sample)
 * @param sweep one entry per evaluated radius, ascending, when the suite has an {@code
 *     epsilon_sweep}; else null
 * @param baseline the comparison with a baseline report, or null
 * @param gates gate checks (empty in a shard's report: gates apply to the merged report)
 * @param trusted true when no diagnostic is fatal (a budget violation, randomness, obfuscated
 *     gradients...)
 * @param passed {@code trusted} and every gate passed
 * @param diagnostics one line per diagnostic, {@code CODE [severity] name: message}
 * @param diagnosticRecords the same diagnostics as records (code, severity, name, message, doc)
 * @param durationSeconds wall-clock time of the whole evaluation
 */
public record Report(
    int schemaVersion,
    Tool tool,
    ModelInfo model,
    SuiteInfo suite,
    DatasetInfo dataset,
    Shard shard,
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
    List<ClassEntry> perClass,
    List<SweepEntry> sweep,
    Baseline baseline,
    List<Gate> gates,
    boolean trusted,
    boolean passed,
    List<String> diagnostics,
    List<Diagnostic> diagnosticRecords,
    double durationSeconds) {

  /** The current layout version of {@code report.json}. */
  public static final int SCHEMA_VERSION = 2;

  /** Copies the lists. */
  public Report {
    sampleIndices = List.copyOf(sampleIndices);
    attacks = List.copyOf(attacks);
    violations = List.copyOf(violations);
    perSample = List.copyOf(perSample);
    perClass = perClass == null ? List.of() : List.copyOf(perClass);
    sweep = sweep == null ? null : List.copyOf(sweep);
    gates = List.copyOf(gates);
    diagnostics = List.copyOf(diagnostics);
    diagnosticRecords = diagnosticRecords == null ? List.of() : List.copyOf(diagnosticRecords);
  }

  /** The sample entry of dataset index {@code index}, or null. */
  public SampleEntry sample(long index) {
    return perSample.stream().filter(e -> e.index() == index).findFirst().orElse(null);
  }

  /**
   * This report without the fields that legitimately differ between runs of the same evaluation (a
   * resumed run, a merge of shards, another machine): {@code duration_seconds}, every {@code
   * seconds} of {@code attacks} and {@code sweep[].attacks}, {@code model.path}, {@code
   * dataset.path} and {@code baseline.path} are zeroed or removed. Everything else (all per-sample
   * values, counts, accuracies, intervals, gates, diagnostics, versions) must be equal.
   */
  public Report withoutRunDetails() {
    ModelInfo m =
        new ModelInfo(
            null, model.sha256(), model.metadata(), model.inputShape(), model.numClasses());
    dev.arat.data.TestSets.Source src =
        dataset.source() == null
            ? null
            : new dev.arat.data.TestSets.Source(
                dataset.source().kind(),
                null,
                null,
                dataset.source().layout(),
                dataset.source().files(),
                dataset.source().sha256());
    DatasetInfo d =
        new DatasetInfo(
            dataset.name(),
            dataset.split(),
            null,
            dataset.testSize(),
            dataset.samplesSha256(),
            src);
    List<SweepEntry> sw =
        sweep == null
            ? null
            : sweep.stream()
                .map(
                    e ->
                        new SweepEntry(
                            e.epsilon(),
                            e.robustCount(),
                            e.robustAccuracy(),
                            e.robustAccuracyCi95(),
                            e.violations(),
                            e.maxPerturbation(),
                            zeroSeconds(e.attacks())))
                .toList();
    Baseline b =
        baseline == null
            ? null
            : new Baseline(
                null,
                baseline.modelSha256(),
                baseline.samples(),
                baseline.robustCount(),
                baseline.robustAccuracy(),
                baseline.sameSamples(),
                baseline.drop(),
                baseline.newlyBroken(),
                baseline.newlyRobust());
    return new Report(
        schemaVersion,
        tool,
        m,
        suite,
        d,
        shard,
        samples,
        sampleIndices,
        seed,
        threatModel,
        cleanCorrect,
        cleanAccuracy,
        cleanAccuracyCi95,
        robustCount,
        robustAccuracy,
        robustAccuracyCi95,
        zeroSeconds(attacks),
        violations,
        maxPerturbation,
        perSample,
        perClass,
        sw,
        b,
        gates,
        trusted,
        passed,
        diagnostics,
        diagnosticRecords,
        0);
  }

  private static List<AttackEntry> zeroSeconds(List<AttackEntry> list) {
    return list.stream()
        .map(
            a ->
                new AttackEntry(
                    a.index(),
                    a.name(),
                    a.settings(),
                    a.attempted(),
                    a.successes(),
                    a.unconfirmed(),
                    a.violations(),
                    a.robustAfter(),
                    a.robustAccuracyAfter(),
                    0,
                    a.modelCalls() == null ? null : a.modelCalls().imagesOnly(),
                    a.skipped()))
        .toList();
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
   * @param executionProvider {@code cpu}, {@code cuda} or {@code tensorrt}; null for an engine-free
   *     model
   * @param graphOptimization ONNX Runtime's graph optimisation level of the sessions that scored
   *     the model, by its C API name ({@value
   *     dev.arat.evaluator.ort.OrtSessions#GRAPH_OPTIMIZATION}: the level at which the QDQ
   *     transformer may fuse integer kernels); null for an engine-free model or a report written
   *     before arat recorded it
   */
  public record Tool(
      String name,
      String version,
      String onnxruntime,
      String java,
      String executionProvider,
      String graphOptimization) {
    /** A tool record without the graph optimisation level (engine-free runs, tests). */
    public Tool(
        String name, String version, String onnxruntime, String java, String executionProvider) {
      this(name, version, onnxruntime, java, executionProvider, null);
    }
  }

  /**
   * The evaluated model.
   *
   * @param path the file as given
   * @param sha256 SHA-256 (hex) of the file's bytes
   * @param metadata the ONNX {@code metadata_props}
   * @param inputShape {@code [-1, C, H, W]}
   * @param numClasses K
   */
  public record ModelInfo(
      String path,
      String sha256,
      Map<String, String> metadata,
      List<Long> inputShape,
      int numClasses) {}

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
   * @param source where the test set came from: kind, path and labels path as given, layout, number
   *     of files and the SHA-256 of the files read (docs/report-schema.md); null in reports written
   *     before it existed
   */
  public record DatasetInfo(
      String name,
      String split,
      String path,
      int testSize,
      String samplesSha256,
      dev.arat.data.TestSets.Source source) {
    /** Without a source (reports written before it existed). */
    public DatasetInfo(String name, String split, String path, int testSize, String samplesSha256) {
      this(name, split, path, testSize, samplesSha256, null);
    }
  }

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
   * @param modelCalls forward and gradient calls the attack made, the images in them and the
   *     seconds inside them (null in reports written before arat recorded them)
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
      dev.arat.attack.ModelCalls modelCalls,
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
      int attackIndex,
      String attack,
      long sampleIndex,
      Double linf,
      Double l2,
      String reason,
      boolean misclassified) {}

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
   * @param name {@code min_clean_accuracy}, {@code min_robust_accuracy}, {@code
   *     min_robust_accuracy_at[eps=E]}, {@code min_class_robust_accuracy} or {@code
   *     max_robust_drop}
   * @param threshold the lowest (comparison {@code min}) or highest ({@code max}) acceptable value
   * @param value the value compared: the accuracy, or its interval's lower bound (see {@code
   *     bound}); for {@code max_robust_drop} the baseline's robust accuracy minus this one's; 0
   *     when skipped
   * @param passed {@code value >= threshold} ({@code min}) or {@code value <= threshold} ({@code
   *     max}); true when skipped
   * @param comparison {@code min} or {@code max}
   * @param bound {@code point}, {@code wilson_lower} or {@code clopper_pearson_lower}: what {@code
   *     value} is
   * @param skipped true when the gate could not be checked (e.g. {@code max_robust_drop} without a
   *     baseline)
   * @param detail a human explanation (worst class, newly broken samples...), or null
   */
  public record Gate(
      String name,
      double threshold,
      double value,
      boolean passed,
      String comparison,
      String bound,
      Boolean skipped,
      String detail) {
    /** Applies the defaults of schema-1 gates ({@code min}, {@code point}, not skipped). */
    public Gate {
      comparison = comparison == null ? "min" : comparison;
      bound = bound == null ? "point" : bound;
      skipped = skipped != null && skipped;
    }
  }

  /**
   * Robust accuracy of one true class.
   *
   * @param label the class
   * @param samples samples of that class
   * @param cleanCorrect of which classified correctly before any attack
   * @param robust of which robust after the cascade
   * @param cleanAccuracy {@code cleanCorrect / samples}
   * @param robustAccuracy {@code robust / samples}
   * @param robustAccuracyCi95 its 95% Wilson interval
   * @param name the class's name from the dataset (e.g. {@code sneaker}), or null when the dataset
   *     names none
   */
  public record ClassEntry(
      int label,
      int samples,
      int cleanCorrect,
      int robust,
      double cleanAccuracy,
      double robustAccuracy,
      Interval robustAccuracyCi95,
      String name) {
    /** {@code 7 (sneaker)}, or {@code 7} without a name. */
    public String display() {
      return name == null ? String.valueOf(label) : label + " (" + name + ")";
    }
  }

  /**
   * The cascade at one radius of an epsilon sweep.
   *
   * @param epsilon the radius (same norm as the threat model)
   * @param robustCount samples robust after the cascade at that radius
   * @param robustAccuracy {@code robustCount / samples}
   * @param robustAccuracyCi95 its 95% Wilson interval
   * @param violations candidates rejected for breaking that budget
   * @param maxPerturbation largest norms over the counted successes at that radius
   * @param attacks per-attack results at that radius
   */
  public record SweepEntry(
      double epsilon,
      int robustCount,
      double robustAccuracy,
      Interval robustAccuracyCi95,
      int violations,
      MaxPerturbation maxPerturbation,
      List<AttackEntry> attacks) {}

  /**
   * The comparison with a baseline report (e.g. the last release's).
   *
   * @param path the baseline report.json as given
   * @param modelSha256 the baseline model's SHA-256
   * @param samples the baseline's sample count
   * @param robustCount the baseline's robust count
   * @param robustAccuracy the baseline's robust accuracy
   * @param sameSamples whether both evaluated the same dataset indices in the same order
   * @param drop baseline robust accuracy minus this report's (positive: worse now)
   * @param newlyBroken dataset indices robust in the baseline and not robust now (among samples
   *     both evaluated)
   * @param newlyRobust dataset indices robust now and not in the baseline
   */
  public record Baseline(
      String path,
      String modelSha256,
      int samples,
      int robustCount,
      double robustAccuracy,
      boolean sameSamples,
      double drop,
      List<Long> newlyBroken,
      List<Long> newlyRobust) {}
}
