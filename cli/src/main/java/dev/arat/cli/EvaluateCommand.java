package dev.arat.cli;

import dev.arat.attack.Cascade;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.evaluator.run.Evidence;
import dev.arat.evaluator.run.SuiteRunner;
import dev.arat.evaluator.run.VariantComparison;
import dev.arat.specs.EvaluationSuite;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code arat evaluate}: attacks an ONNX model per a suite; the gates decide the exit code. */
@Command(
    name = "evaluate",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    description = {
      "Attack an ONNX classifier per a suite and gate the result.",
      "",
      "Runs the suite's attack cascade against the ONNX file through ONNX Runtime (white-box "
          + "attacks use an input-gradient graph built from the file), writes report.json and "
          + "report.md, and exits by the suite's gates: 0 passed, 1 failed, 3 untrusted."
    })
final class EvaluateCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "FILE", description = "The ONNX model.")
  Path model;

  @Option(
      names = "--suite",
      defaultValue = "demo",
      paramLabel = "FILE|NAME",
      description = "Suite YAML file or built-in suite name (default: ${DEFAULT-VALUE}).")
  String suite;

  @Option(
      names = "--out",
      paramLabel = "DIR",
      description = "Folder for report.json and report.md (default: 'eval' next to the model).")
  Path out;

  @Option(
      names = "--min-robust-accuracy",
      paramLabel = "X",
      description = "Override the suite's robust-accuracy gate (a fraction in [0,1]).")
  Double minRobust;

  @Option(names = "--samples", paramLabel = "N", description = "Override the suite's sample count.")
  Integer samples;

  @Option(
      names = "--data",
      paramLabel = "PATH",
      description =
          "The test set: the folder (or CIFAR tarball) of the suite's named dataset "
              + "(overrides data.path), an image folder with class sub-folders (when no dataset is named), "
              + "an .npz archive (arrays x and y), or an .npy images file with --labels.")
  Path data;

  @Option(
      names = "--labels",
      paramLabel = "Y.npy",
      description = "The labels of --data X.npy: int64, int32 or uint8, shape (N).")
  Path labels;

  @Option(
      names = "--dataset",
      paramLabel = "NAME",
      description =
          "Dataset name (overrides data.dataset; default: the suite's, else the one in the "
              + "model's metadata).")
  String dataset;

  @Option(
      names = "--threads",
      defaultValue = "0",
      description = "ONNX Runtime intra-op threads (0 = all cores).")
  int threads;

  @Mixin GradientLanesOption gradientLanes;

  @Option(
      names = "--inter-op-threads",
      defaultValue = "0",
      description = "ONNX Runtime inter-op threads (0 = sequential).")
  int interOpThreads;

  @Option(
      names = "--provider",
      defaultValue = "cpu",
      paramLabel = "cpu|cuda|tensorrt",
      description =
          "ONNX Runtime execution provider; GPU providers need the 'gpu' Maven profile "
              + "build (default: ${DEFAULT-VALUE}).")
  String provider;

  @Option(
      names = "--shard",
      paramLabel = "K/N",
      description =
          "Run only shard K of N (sample positions = K-1 mod N); combine with 'arat merge'.")
  String shard;

  @Option(
      names = "--baseline",
      paramLabel = "FILE",
      description =
          "Baseline report.json for the max_robust_drop gate; newly broken samples are listed.")
  Path baseline;

  @Option(
      names = "--variant",
      paramLabel = "FILE",
      description =
          "A variant of --model (e.g. its INT8 or FP16 ONNX file) to evaluate on the same samples and "
              + "compare with it; repeatable. Each variant's reports go to DIR/variants/NAME/, the comparison to "
              + "variants.json, variants.png and report.md; gates max_robust_drop_vs_parent and min_top1_agreement.")
  List<Path> variants;

  @Option(
      names = "--fresh",
      description = "Discard an existing ledger in --out instead of resuming from it.")
  boolean fresh;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    Output output = new Output(spec);
    SuiteAndData chosen = SuiteAndData.of(suite, samples, dataset, data, labels);
    EvaluationSuite s = chosen.suite();
    Path dataDir = chosen.dataDir();
    if (minRobust != null) {
      if (!(minRobust >= 0 && minRobust <= 1)) {
        throw new IllegalArgumentException(
            "--min-robust-accuracy: must be in [0,1], was " + minRobust);
      }
      s = s.withMinRobustAccuracy(minRobust);
    }
    Path dir = out != null ? out : model.toAbsolutePath().getParent().resolve("eval");
    SuiteRunner.Builder runner =
        SuiteRunner.builder()
            .optThreads(threads)
            .optInterOpThreads(interOpThreads)
            .optGradientLanes(gradientLanes.lanes)
            .optProvider(provider)
            .optShard(shard)
            .optBaseline(baseline)
            .optFresh(fresh);
    if (variants != null && !variants.isEmpty()) {
      if (shard != null) {
        throw new IllegalArgumentException(
            "--variant: cannot be combined with --shard (evaluate variants unsharded)");
      }
      return evaluateVariants(model, variants, s, dir, dataDir, runner, output);
    }
    return evaluate(model, s, dir, dataDir, runner, output);
  }

  /**
   * Runs the suite (resuming from a ledger in {@code dir}), writes report.json, report.md,
   * junit.xml and the plots, and returns the exit code decided by the gates. Ctrl-C stops after the
   * current batch; what is done stays in the ledger, and the same command resumes.
   */
  static int evaluate(
      Path model,
      EvaluationSuite suite,
      Path dir,
      Path data,
      SuiteRunner.Builder runner,
      Output output) {
    AtomicBoolean stop = new AtomicBoolean();
    Report report;
    try (GracefulStop graceful = new GracefulStop(() -> stop.set(true), 60)) {
      runner
          .optProgress(output.progress(), System.console() != null)
          .optListener(
              stopper(
                  stop,
                  "interrupted; finished batches are in "
                      + dir.resolve("ledger.jsonl")
                      + ", rerun the same command to resume"));
      report = runner.build().run(model, suite, data, dir);
    }
    List<Path> files = ReportFiles.writeAll(report, dir);
    PrintWriter out = output.out();
    Path json = files.get(0);
    printSummary(report, out);
    out.printf(
        "reports: %s (and %s)%n",
        json,
        files.stream()
            .skip(1)
            .map(p -> p.getFileName().toString())
            .collect(java.util.stream.Collectors.joining(", ")));
    if (suite.saveAdversarial() && java.nio.file.Files.exists(dir.resolve(Evidence.IMAGES))) {
      out.printf(
          "adversarial examples: %s (%d, with their indices, labels and predictions; replay them with "
              + "'arat replay MODEL --adversarial %s')%n",
          dir.resolve(Evidence.IMAGES),
          report.perSample().stream().filter(e -> !e.robust() && e.attackIndex() >= 0).count(),
          dir.resolve(Evidence.IMAGES));
    }
    if (!report.trusted()) {
      out.println("UNTRUSTED: the measurement cannot be trusted (see violations and diagnostics)");
      return ExitCodes.UNTRUSTED;
    }
    out.println(ReportFiles.verdictLine(report));
    return report.passed() ? ExitCodes.OK : ExitCodes.GATE_FAILED;
  }

  /**
   * Evaluates {@code model} and its variants on the same samples ({@link VariantComparison}),
   * writes every report and the comparison, prints one summary per model and the comparison, and
   * returns the exit code: 3 when any report is untrusted, 1 when any gate (a model's own or a
   * variant gate) failed, else 0.
   */
  static int evaluateVariants(
      Path model,
      List<Path> variants,
      EvaluationSuite suite,
      Path dir,
      Path data,
      SuiteRunner.Builder runner,
      Output output) {
    AtomicBoolean stop = new AtomicBoolean();
    VariantComparison.Outcome o;
    try (GracefulStop graceful = new GracefulStop(() -> stop.set(true), 60)) {
      runner
          .optProgress(output.progress(), System.console() != null)
          .optListener(
              stopper(
                  stop,
                  "interrupted; finished batches are in the ledgers under "
                      + dir
                      + ", rerun the same command to resume"));
      o = VariantComparison.run(runner, runner.runtime(), model, variants, suite, data, dir);
    }
    List<Path> files = VariantComparison.writeAll(o, dir);
    PrintWriter out = output.out();
    printSummary(o.parent(), out);
    for (Report r : o.variants()) {
      printSummary(r, out);
    }
    VariantComparison.Result c = o.comparison();
    out.printf(
        "%n%-28s %8s %8s %9s %9s %9s %8s%n",
        "model", "clean", "robust", "drop", "top-1 agr", "transfer", "time");
    List<VariantComparison.Entry> all = new java.util.ArrayList<>();
    all.add(c.parent());
    all.addAll(c.variants());
    for (VariantComparison.Entry e : all) {
      boolean parent = e == c.parent();
      out.printf(
          java.util.Locale.ROOT,
          "%-28s %7.2f%% %7.2f%% %9s %9s %9s %7.1fs%n",
          e.name(),
          100 * e.cleanAccuracy(),
          100 * e.robustAccuracy(),
          parent
              ? "parent"
              : String.format(java.util.Locale.ROOT, "%.2f pt", 100 * e.robustDropVsParent()),
          parent ? "" : String.format(java.util.Locale.ROOT, "%.2f%%", 100 * e.top1Agreement()),
          parent || e.transfer().rate() == null
              ? ""
              : String.format(java.util.Locale.ROOT, "%.2f%%", 100 * e.transfer().rate()),
          e.durationSeconds());
    }
    for (Report.Gate g : c.gates()) {
      out.printf("  gate %s%n", ReportFiles.gateText(g));
    }
    out.printf(
        "reports: %s (and %s, variants/)%n",
        files.get(0),
        files.stream()
            .skip(1)
            .map(p -> p.getFileName().toString())
            .collect(java.util.stream.Collectors.joining(", ")));
    if (!c.trusted()) {
      out.println(
          "UNTRUSTED: a measurement cannot be trusted (see each report's violations and diagnostics)");
      return ExitCodes.UNTRUSTED;
    }
    out.println(
        c.passed() ? "PASSED: every gate passed (parent and variants)" : "FAILED: a gate failed");
    return c.passed() ? ExitCodes.OK : ExitCodes.GATE_FAILED;
  }

  /** A listener that ends the run after the current batch once {@code stop} is set (Ctrl-C). */
  private static Cascade.Listener stopper(AtomicBoolean stop, String message) {
    return new Cascade.Listener() {
      @Override
      public void progress(int index, int done, int todo) {
        if (stop.get()) {
          throw new AratException(ExitCodes.INTERRUPTED, message);
        }
      }
    };
  }

  /** Prints the short results table. */
  static void printSummary(Report r, PrintWriter out) {
    out.printf(
        "%n%s, %s, %d samples (seed %d)%n",
        r.suite().name(), r.threatModel().label(), r.samples(), r.seed());
    out.printf("  %-28s %8s   %s%n", "", "accuracy", "95% CI");
    out.printf(
        "  %-28s %7.2f%%   [%.1f, %.1f]%n",
        "clean",
        100 * r.cleanAccuracy(),
        100 * r.cleanAccuracyCi95().low(),
        100 * r.cleanAccuracyCi95().high());
    for (Report.AttackEntry a : r.attacks()) {
      if (a.skipped()
          && a.robustAfter() > 0) { // robust samples left, yet skipped: attacks could not run
        out.printf("  %-28s %8s%n", "after " + a.name(), "not run");
      } else {
        out.printf("  %-28s %7.2f%%%n", "after " + a.name(), 100 * a.robustAccuracyAfter());
      }
    }
    out.printf(
        "  %-28s %7.2f%%   [%.1f, %.1f]%n",
        "robust (whole cascade)",
        100 * r.robustAccuracy(),
        100 * r.robustAccuracyCi95().low(),
        100 * r.robustAccuracyCi95().high());
    for (Report.Gate g : r.gates()) {
      out.printf("  gate %s%n", ReportFiles.gateText(g));
    }
    for (String d : r.diagnostics()) {
      out.println("  diagnostic: " + d);
    }
    String capped = ReportFiles.samplesNote(r);
    if (capped != null) {
      out.println("  note: " + capped);
    }
  }
}
