package dev.arat.cli;

import dev.arat.bench.BenchEnvironment;
import dev.arat.bench.EvaluateBench;
import dev.arat.bench.TorchBaseline;
import dev.arat.bench.TrainBenchReport;
import dev.arat.bench.TrainStepBench;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.evaluator.ort.RuntimeOptions;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.evaluator.run.SuiteRunner;
import dev.arat.specs.AtomicFiles;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.LossHead;
import dev.arat.specs.Specs;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code arat bench}: speed benchmarks, {@code train} and {@code evaluate}. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    description = {"Speed benchmarks (numbers are printed, never asserted)."},
    subcommands = {
      BenchCommand.Train.class,
      BenchCommand.Evaluate.class,
      CommandLine.HelpCommand.class
    })
final class BenchCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().usage(spec.commandLine().getOut());
    return ExitCodes.INPUT_ERROR;
  }

  /** The comparisons {@code bench train} can run. */
  enum Part {
    /** ARAT step vs PGD-AT step (and the plain step). */
    STEPS,
    /** In-training PGD: attack-suite adapter vs the same loop on DJL arrays. */
    ATTACK
  }

  /** {@code arat bench train}: training-step speed. */
  @Command(
      name = "train",
      mixinStandardHelpOptions = true,
      usageHelpAutoWidth = true,
      description = {
        "Time the trainer's steps on synthetic data.",
        "",
        "1. ARAT step vs PGD-AT step (same model, batch, PGD-K): ratio, target <= 1.2.",
        "2. --compare-torch: plain and PGD-AT steps vs PyTorch eager running the same steps "
            + "(bench/torch_train_step.py via --python), interleaved round by round: "
            + "ours/torch paired per round, target <= 1.",
        "3. In-training PGD through the attack-suite adapter (Pgd.perturb over "
            + "NetworkClassifier, float[] copies) vs the same loop on DJL arrays: overhead, "
            + "target <= 5%%.",
        "Setups are warmed up and run interleaved; reports mean ± std and median [IQR] "
            + "seconds per step, images/s, and paired ratios. The allocator in use (tcmalloc "
            + "when started by the arat launcher; ARAT_NO_TCMALLOC=1 for glibc) is recorded."
      })
  static final class Train implements Callable<Integer> {
    @Option(
        names = "--model",
        defaultValue = "small-cnn",
        paramLabel = "NAME",
        description =
            "small-cnn or resnet18 (any built-in works for 1 and 3) "
                + "(default: ${DEFAULT-VALUE}).")
    String model;

    @Option(
        names = "--batch",
        paramLabel = "N",
        description = "Images per step (default: 128 for small-cnn, 32 otherwise).")
    Integer batch;

    @Option(
        names = "--input",
        paramLabel = "CxHxW",
        description = "Input geometry (default: 1x28x28 for small-cnn, 3x32x32 otherwise).")
    String input;

    @Option(names = "--classes", defaultValue = "10", description = "Classes (${DEFAULT-VALUE}).")
    int classes;

    @Option(
        names = "--pgd-steps",
        defaultValue = "10",
        description = "PGD iterations in both methods (${DEFAULT-VALUE}).")
    int pgdSteps;

    @Option(
        names = "--threads",
        defaultValue = "0",
        description =
            "libtorch intra-op threads, also given to PyTorch (0 = keep the engine's "
                + "default).")
    int threads;

    @Option(
        names = "--warmup",
        paramLabel = "N",
        description = "Untimed repetitions per setup (default: 3 small-cnn, 1 otherwise).")
    Integer warmup;

    @Option(
        names = "--iterations",
        paramLabel = "N",
        description = "Timed repetitions per setup (default: 20 small-cnn, 5 otherwise).")
    Integer iterations;

    @Option(names = "--seed", defaultValue = "1", description = "Seed (${DEFAULT-VALUE}).")
    long seed;

    @Option(
        names = "--only",
        split = ",",
        paramLabel = "PART",
        description =
            "Run only these parts: steps, attack (default: both; --compare-torch "
                + "needs steps).")
    List<String> only;

    @Option(
        names = "--compare-torch",
        description = "Also run the same plain and PGD-AT steps in PyTorch eager.")
    boolean compareTorch;

    @Option(
        names = "--python",
        defaultValue = "/usr/bin/python3",
        paramLabel = "PATH",
        description = "Interpreter with torch for --compare-torch (${DEFAULT-VALUE}).")
    Path python;

    @Option(
        names = "--torch-script",
        paramLabel = "FILE",
        description =
            "The baseline script (default: bench/torch_train_step.py of this checkout, "
                + "found from the working directory or the install).")
    Path torchScript;

    @Option(
        names = "--torch-malloc",
        defaultValue = "same",
        paramLabel = "same|glibc|tcmalloc",
        description =
            "Allocator of the PyTorch child: same as this JVM, glibc, or tcmalloc "
                + "(${DEFAULT-VALUE}).")
    String torchMalloc;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the numbers as JSON.")
    Path json;

    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      Output output = new Output(spec);
      PrintStream progress = output.progress();
      TrainStepBench.Config d = TrainStepBench.Config.defaults(model);
      int[] geo = input == null ? new int[] {d.channels(), d.height(), d.width()} : geometry(input);
      TrainStepBench.Config c =
          new TrainStepBench.Config(
              model,
              batch == null ? d.batch() : batch,
              geo[0],
              geo[1],
              geo[2],
              classes,
              pgdSteps,
              warmup == null ? d.warmup() : warmup,
              iterations == null ? d.iterations() : iterations,
              seed);
      Set<Part> parts = parts(only);
      if (compareTorch && !parts.contains(Part.STEPS)) {
        throw new IllegalArgumentException("--compare-torch needs the steps part (--only steps)");
      }
      TorchBaseline.Malloc tm = malloc(torchMalloc);
      String engine = TrainStepBench.engine();
      if (!"PyTorch".equals(engine)) {
        throw new AratException(
            ExitCodes.INTERNAL, "the benchmark needs DJL's PyTorch engine, " + "found " + engine);
      }
      int usedThreads = TrainStepBench.threads(threads);
      TrainBenchReport report = new TrainBenchReport(c, BenchEnvironment.describe());
      TrainStepBench bench = new TrainStepBench(c, progress);
      if (parts.contains(Part.STEPS)) {
        report.steps(bench.trainSteps());
      }
      if (parts.contains(Part.ATTACK)) {
        report.attacks(bench.attackPaths());
      }
      if (compareTorch) {
        Path script = torchScript != null ? torchScript : findScript();
        String why = TorchBaseline.unavailable(python, script);
        if (why != null) {
          report.torchSkipped(why);
          if (progress != null) {
            progress.println("skipping the PyTorch comparison: " + why);
          }
        } else {
          try (TorchBaseline.Worker worker =
              TorchBaseline.start(python, script, c, usedThreads, tm, progress)) {
            report.torch(bench.versusTorch(worker));
          } catch (TorchBaseline.BaselineFailure e) {
            throw new AratException(
                ExitCodes.INPUT_ERROR, e.getMessage() + " (" + python + " " + script + ")");
          }
        }
      }
      report.loadAfter(BenchEnvironment.loadAverage());
      PrintWriter out = output.out();
      out.print(report.table());
      out.flush();
      writeJson(json, report.toMap(), out);
      return ExitCodes.OK;
    }

    static int[] geometry(String s) {
      String[] p = s.toLowerCase(Locale.ROOT).split("x");
      if (p.length != 3) {
        throw new IllegalArgumentException("--input must be CxHxW (e.g. 3x32x32), was '" + s + "'");
      }
      int[] g = new int[3];
      for (int i = 0; i < 3; i++) {
        try {
          g[i] = Integer.parseInt(p[i].trim());
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(
              "--input must be CxHxW (e.g. 3x32x32), was '" + s + "'");
        }
      }
      return g;
    }

    static Set<Part> parts(List<String> only) {
      if (only == null || only.isEmpty()) {
        return EnumSet.allOf(Part.class);
      }
      Set<Part> s = new LinkedHashSet<>();
      for (String o : only) {
        try {
          s.add(Part.valueOf(o.trim().toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(
              "--only: unknown part '" + o + "', expected steps " + "or attack");
        }
      }
      return EnumSet.copyOf(s);
    }

    static TorchBaseline.Malloc malloc(String s) {
      try {
        return TorchBaseline.Malloc.valueOf(s.trim().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "--torch-malloc must be same, glibc or tcmalloc, was '" + s + "'");
      }
    }

    /** bench/torch_train_step.py from the working directory or above the CLI's classes/jar. */
    static Path findScript() {
      List<Path> roots = new ArrayList<>();
      roots.add(Path.of("").toAbsolutePath());
      try {
        Path code =
            Path.of(BenchCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        for (Path p = code; p != null; p = p.getParent()) {
          roots.add(p);
        }
      } catch (URISyntaxException | RuntimeException e) {
        // only the working directory
      }
      for (Path r : roots) {
        Path s = r.resolve("bench").resolve("torch_train_step.py");
        if (Files.isRegularFile(s)) {
          return s;
        }
      }
      return Path.of("bench", "torch_train_step.py");
    }
  }

  /** {@code arat bench evaluate}: where an evaluation's time goes. */
  @Command(
      name = "evaluate",
      mixinStandardHelpOptions = true,
      usageHelpAutoWidth = true,
      description = {
        "Run a suite on a model from scratch and show where the time goes.",
        "",
        "Runs the suite exactly as 'arat evaluate' does (never resuming; reports go to --out), then "
            + "prints per attack its seconds, forward and gradient calls (and the images in them) and "
            + "the seconds inside them, and times one forward and one gradient call per loss head the "
            + "suite uses at the suite's batch size on the same ONNX Runtime setup, interleaved round "
            + "by round: the ratio gradient/forward."
      })
  static final class Evaluate implements Callable<Integer> {
    @Option(
        names = "--model",
        required = true,
        paramLabel = "FILE",
        description = "The ONNX model.")
    Path model;

    @Option(
        names = "--suite",
        defaultValue = "autoattack-standard",
        paramLabel = "FILE|NAME",
        description = "Suite YAML file or built-in suite name (default: ${DEFAULT-VALUE}).")
    String suite;

    @Option(
        names = "--samples",
        paramLabel = "N",
        description = "Override the suite's sample count.")
    Integer samples;

    @Option(
        names = "--data",
        paramLabel = "PATH",
        description =
            "The test set, as for 'arat evaluate': a dataset folder (or CIFAR tarball), an image "
                + "folder, an .npz archive, or an .npy images file with --labels.")
    Path data;

    @Option(
        names = "--labels",
        paramLabel = "Y.npy",
        description = "The labels of --data X.npy: int64, int32 or uint8, shape (N).")
    Path labels;

    @Option(
        names = "--dataset",
        paramLabel = "NAME",
        description = "Dataset name (overrides data.dataset).")
    String dataset;

    @Option(
        names = "--threads",
        defaultValue = "0",
        description = "ONNX Runtime intra-op threads (0 = all cores).")
    int threads;

    @Mixin GradientLanesOption gradientLanes;

    @Option(
        names = "--rounds",
        defaultValue = "10",
        description = "Timed rounds of the forward/gradient call timing (${DEFAULT-VALUE}).")
    int rounds;

    @Option(
        names = "--out",
        paramLabel = "DIR",
        description =
            "Folder for the evaluation's reports (default: 'bench-evaluate' next to the model); "
                + "an existing ledger there is discarded.")
    Path out;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the numbers as JSON.")
    Path json;

    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
      Output output = new Output(spec);
      if (rounds <= 0) {
        throw new IllegalArgumentException("--rounds: must be > 0, was " + rounds);
      }
      SuiteAndData chosen = SuiteAndData.of(suite, samples, dataset, data, labels);
      EvaluationSuite s = chosen.suite();
      Path dir = out != null ? out : model.toAbsolutePath().getParent().resolve("bench-evaluate");
      SuiteRunner.Builder runner =
          SuiteRunner.builder()
              .optThreads(threads)
              .optGradientLanes(gradientLanes.lanes)
              .optFresh(true)
              .optProgress(output.progress(), System.console() != null);
      Report report = runner.build().run(model, s, chosen.dataDir(), dir);
      ReportFiles.writeAll(report, dir);
      List<LossHead> heads =
          s.attacks().stream().flatMap(a -> a.lossHeads().stream()).distinct().toList();
      if (heads.isEmpty()) {
        heads = List.of(LossHead.CE);
      }
      EvaluateBench.CallTimes times;
      try (OrtClassifier m =
          OrtClassifier.open(
              model,
              RuntimeOptions.cpu(threads).withGradientLanes(gradientLanes.lanes),
              s.normalization())) {
        times = EvaluateBench.callTimes(m, heads, s.batchSize(), 3, rounds, s.seed());
      }
      PrintWriter o = output.out();
      o.printf(
          Locale.ROOT,
          "%s, suite %s, %d samples (seed %d), batch %d, robust accuracy %.2f%%; load average %s%n",
          model.getFileName(),
          report.suite().name(),
          report.samples(),
          report.seed(),
          s.batchSize(),
          100 * report.robustAccuracy(),
          java.util.Arrays.toString(BenchEnvironment.loadAverage()));
      o.print(EvaluateBench.table(report, times));
      o.printf("reports: %s%n", dir.resolve("report.json"));
      o.flush();
      writeJson(json, EvaluateBench.toMap(report, times), o);
      return ExitCodes.OK;
    }
  }

  /**
   * Writes {@code numbers} as JSON to {@code json} (atomically, folders created) unless it is null.
   */
  static void writeJson(Path json, Object numbers, PrintWriter out) throws java.io.IOException {
    if (json == null) {
      return;
    }
    Path parent = json.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    AtomicFiles.writeString(json, Specs.json().writeValueAsString(numbers) + "\n");
    out.println("wrote " + json);
  }
}
