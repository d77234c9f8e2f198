package dev.arat.evaluator.run;

import ai.onnxruntime.OrtEnvironment;
import dev.arat.attack.Attack;
import dev.arat.attack.Attacks;
import dev.arat.attack.Cascade;
import dev.arat.attack.CascadeResult;
import dev.arat.attack.Classifier;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.data.ImageDataset;
import dev.arat.data.Permutations;
import dev.arat.data.TestSets;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.Shard;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.evaluator.checks.NonFiniteWatch;
import dev.arat.evaluator.checks.Probes;
import dev.arat.evaluator.ort.ExecutionProvider;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.evaluator.ort.OrtSessions;
import dev.arat.evaluator.ort.RuntimeOptions;
import dev.arat.evaluator.report.Progress;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportAssembler;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.specs.AttackSpec;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.LossHead;
import dev.arat.specs.SpecException;
import dev.arat.specs.ThreatModel;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Runs an evaluation suite on an ONNX model: loads the model into ONNX Runtime, loads the test
 * split, chooses the samples ({@code Permutations.firstOf(testSize, samples, seed)}, then the
 * shard's positions), runs the sanity checks on the probe samples, builds the attacks (attack
 * {@code i} seeded with {@link Attacks#seedFor}{@code (suite seed, i)}), runs the {@link Cascade}
 * at the threat model's radius and at every radius of the epsilon sweep (attacks through the
 * input-gradient sessions, every candidate re-scored on the forward session of the file), applies
 * the gates and returns the {@link Report}.
 *
 * <p>With an output folder ({@link #run(Path, EvaluationSuite, Path, Path)}) every computed batch
 * is appended to the folder's {@link Ledger}; running the same suite on the same model into the
 * same folder again resumes from it. A shard run ({@link Builder#optShard}) evaluates only its
 * samples; {@link Merge} combines the shards' ledgers into the report of a single run.
 *
 * <p>Errors: {@link SpecException} (including {@code DatasetException}) for unusable suites or
 * data, {@link dev.arat.onnx.OnnxModelException} (and its {@code UnsupportedOpException}) for
 * missing, corrupt or non-differentiable models, {@link EvaluationException} for what ONNX Runtime
 * rejects or fails at, unusable providers and ledgers of another evaluation. A report whose {@link
 * Report#trusted()} is false must not be believed.
 */
public final class SuiteRunner {
  /** arat's version as written into reports. */
  public static final String TOOL_VERSION = dev.arat.specs.AratVersion.VERSION;

  /** File name of the gallery of clean and adversarial examples written next to the ledger. */
  public static final String GALLERY_FILE = "gallery.png";

  private final RuntimeOptions runtime;
  private final PrintStream progress;
  private final boolean interactive;
  private final Shard shard;
  private final Path baseline;
  private final boolean fresh;
  private final boolean gallery;
  private final Cascade.Listener listener;
  private final java.util.function.Consumer<Map<Double, CascadeResult>> resultSink;

  /**
   * A runner with default threads, progress on {@code System.err}, in-place lines on a terminal.
   */
  public SuiteRunner() {
    this(0, System.err, System.console() != null);
  }

  /**
   * Creates a runner on the CPU, the whole evaluation, no baseline.
   *
   * @param intraOpThreads ONNX Runtime intra-op threads; {@code <= 0} means available processors
   * @param progress where progress lines go, or null for silence
   * @param interactive rewrite the progress line in place (pass {@code System.console() != null})
   */
  public SuiteRunner(int intraOpThreads, PrintStream progress, boolean interactive) {
    this(
        builder()
            .optRuntime(RuntimeOptions.cpu(intraOpThreads))
            .optProgress(progress, interactive));
  }

  private SuiteRunner(Builder b) {
    this.runtime = b.runtime;
    this.progress = b.progress;
    this.interactive = b.interactive;
    this.shard = b.shard;
    this.baseline = b.baseline;
    this.fresh = b.fresh;
    this.gallery = b.gallery;
    this.listener = b.listener;
    this.resultSink = b.resultSink;
  }

  /** A builder: {@code optX} setters are optional; {@link Builder#build()} validates. */
  public static Builder builder() {
    return new Builder();
  }

  /** Options of a {@link SuiteRunner}; every one has a default. */
  public static final class Builder {
    private RuntimeOptions runtime = RuntimeOptions.DEFAULT;
    private PrintStream progress;
    private boolean interactive;
    private Shard shard = Shard.ALL;
    private Path baseline;
    private boolean fresh;
    private boolean gallery = true;
    private Cascade.Listener listener;
    private java.util.function.Consumer<Map<Double, CascadeResult>> resultSink;

    private Builder() {}

    /** Execution provider and threads (default: CPU, all cores). */
    public Builder optRuntime(RuntimeOptions r) {
      this.runtime = r == null ? RuntimeOptions.DEFAULT : r;
      return this;
    }

    /**
     * ONNX Runtime intra-op threads ({@code <= 0}: all cores), keeping the other runtime options.
     */
    public Builder optThreads(int intraOpThreads) {
      runtime = runtime.withIntraOpThreads(intraOpThreads);
      return this;
    }

    /** The runtime options set so far (the ones {@link #build()}'s runner opens models with). */
    public RuntimeOptions runtime() {
      return runtime;
    }

    /** ONNX Runtime inter-op threads ({@code > 1}: parallel execution of independent nodes). */
    public Builder optInterOpThreads(int interOpThreads) {
      runtime = runtime.withInterOpThreads(interOpThreads);
      return this;
    }

    /**
     * Gradient lanes per loss head (1, 2 or 4; 0: automatic; see {@link
     * dev.arat.evaluator.ort.OrtSessions#gradientLanes}).
     */
    public Builder optGradientLanes(int lanes) {
      runtime = runtime.withGradientLanes(lanes);
      return this;
    }

    /** The execution provider ({@code cpu}, {@code cuda}, {@code tensorrt}); null keeps CPU. */
    public Builder optProvider(String provider) {
      if (provider != null) {
        runtime = runtime.withProvider(ExecutionProvider.parse(provider));
      }
      return this;
    }

    /** Progress printing: where (null: silent) and whether to rewrite one line in place. */
    public Builder optProgress(PrintStream out, boolean interactive) {
      this.progress = out;
      this.interactive = interactive;
      return this;
    }

    /** Run only shard {@code k/n} (default: everything); see {@link Shard}. */
    public Builder optShard(Shard s) {
      this.shard = s == null ? Shard.ALL : s;
      return this;
    }

    /** Run only shard {@code "k/n"}; null means everything. */
    public Builder optShard(String s) {
      return optShard(s == null ? null : Shard.parse(s));
    }

    /**
     * A baseline {@code report.json} for the {@code max_robust_drop} gate and the newly broken
     * list.
     */
    public Builder optBaseline(Path report) {
      this.baseline = report;
      return this;
    }

    /** Discard an existing ledger in the output folder instead of resuming from it. */
    public Builder optFresh(boolean fresh) {
      this.fresh = fresh;
      return this;
    }

    /** Write {@value #GALLERY_FILE} into the output folder (default true). */
    public Builder optGallery(boolean gallery) {
      this.gallery = gallery;
      return this;
    }

    /**
     * Also send cascade events to {@code l} (after the progress printer). A listener that throws
     * aborts the run; everything finished before is in the ledger.
     */
    public Builder optListener(Cascade.Listener l) {
      this.listener = l;
      return this;
    }

    /**
     * Also hand the raw cascade results (per radius, with the adversarial points) to {@code sink}
     * before the report is assembled; null: none. Samples replayed from a ledger carry their clean
     * image as adversarial point (the ledger holds no pixels). Used by {@link VariantComparison}.
     */
    public Builder optResultSink(java.util.function.Consumer<Map<Double, CascadeResult>> sink) {
      this.resultSink = sink;
      return this;
    }

    /** The runner. */
    public SuiteRunner build() {
      return new SuiteRunner(this);
    }
  }

  /**
   * Evaluates an ONNX file without an output folder (nothing is recorded; no resume).
   *
   * @param modelFile the {@code .onnx} classifier ({@code [0,1]} float32 NCHW input, logits output)
   * @param suite the suite (defaults applied)
   * @param dataDirOverride folder of the dataset files, overriding {@code suite.data().path()}; may
   *     be null
   * @return the report (gates applied)
   */
  public Report run(Path modelFile, EvaluationSuite suite, Path dataDirOverride) {
    return run(modelFile, suite, dataDirOverride, null);
  }

  /**
   * Evaluates an ONNX file, recording every batch in {@code outDir/ledger.jsonl} and resuming from
   * it when it already holds this evaluation; also writes {@value #GALLERY_FILE} there. The reports
   * themselves are written by {@link ReportFiles#writeAll}.
   *
   * @param modelFile the {@code .onnx} classifier ({@code [0,1]} float32 NCHW input, logits output)
   * @param suite the suite (defaults applied)
   * @param dataDirOverride folder of the dataset files, overriding {@code suite.data().path()}; may
   *     be null
   * @param outDir the output folder (created if missing), or null for an unrecorded run
   * @return the report (gates applied; none in a shard's report)
   */
  public Report run(Path modelFile, EvaluationSuite suite, Path dataDirOverride, Path outDir) {
    long t0 = System.nanoTime();
    TestSetChoice chosen = TestSetChoice.of(modelFile, suite, dataDirOverride);
    suite = chosen.suite();
    Path dataDir = chosen.dataDir();
    TestSets.TestSet testSet = TestSets.load(suite.data(), dataDir);
    ImageDataset test = testSet.data();
    String sha = dev.arat.onnx.OnnxModels.read(modelFile).sha256(); // covers external data too
    try (OrtClassifier model = OrtClassifier.open(modelFile, runtime, suite.normalization());
        SurrogateScope scope = this::closeSurrogates) {
      if (model.channels() != test.channels()
          || model.height() != test.height()
          || model.width() != test.width()) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            String.format(
                Locale.ROOT,
                "model file '%s' takes %dx%dx%d images (CxHxW) but %s has %dx%dx%d%s",
                modelFile,
                model.channels(),
                model.height(),
                model.width(),
                test.name(),
                test.channels(),
                test.height(),
                test.width(),
                "folder".equals(suite.data().format())
                    ? "; set data.image_size and data.channels to convert the images"
                    : ""));
      }
      if (testSet.classCountFromLabels() && test.numClasses() <= model.numClasses()) {
        testSet = testSet.withClassCount(model.numClasses());
        test = testSet.data();
      }
      if (model.numClasses() != test.numClasses()) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            String.format(
                Locale.ROOT,
                "model file '%s' outputs %d classes but %s has %d",
                modelFile,
                model.numClasses(),
                test.name(),
                test.numClasses()));
      }
      List<Long> shape = new ArrayList<>();
      for (long d : model.inputShape()) {
        shape.add(d);
      }
      Report.ModelInfo info =
          new Report.ModelInfo(
              modelFile.toString(), sha, model.metadata(), shape, model.numClasses());
      // spec errors before any session work (a transfer attack's surrogate is opened once, here)
      EvaluationSuite.Normalization normalization = suite.normalization();
      SuiteAttacks.build(
          suite, suite.threatModel(), model.numClasses(), path -> surrogate(path, normalization));
      // fail fast on non-differentiable graphs, before the clean pass and any attack
      Diagnostic whiteBox =
          TrustChecks.whiteBoxVerdict(model.whiteBoxImpossible(), suite, modelFile);
      if (whiteBox == null) {
        for (AttackSpec spec : suite.attacks()) {
          if (!spec.blackBox()) { // a transfer attack differentiates its surrogate, Square nothing
            for (LossHead head : spec.lossHeads()) {
              model.prepare(head);
            }
          }
        }
      }
      Report.Tool tool =
          new Report.Tool(
              "arat",
              TOOL_VERSION,
              OrtEnvironment.getEnvironment().getVersion(),
              System.getProperty("java.version"),
              model.provider().id(),
              OrtSessions.GRAPH_OPTIMIZATION);
      EvaluationSuite checked = suite;
      Supplier<List<Diagnostic>> diagnostics =
          () -> {
            List<Diagnostic> d =
                new ArrayList<>(TrustChecks.straightThroughChecked(model.diagnostics(), checked));
            if (whiteBox != null) {
              d.add(whiteBox);
            }
            return d;
          };
      return evaluate(
          model,
          model,
          info,
          diagnostics,
          suite,
          test,
          testSet.source(),
          dataDir == null ? testSet.source().path() : dataDir.toString(),
          tool,
          outDir,
          t0);
    }
  }

  /**
   * The engine-free core without an output folder: evaluates {@code attacked}/{@code deployed} on
   * {@code test} under {@code suite}.
   *
   * @param attacked the model the attacks see (input gradients)
   * @param deployed the model whose verdict counts (may be the same object)
   * @param model what the report says about the model
   * @param modelDiagnostics diagnostics about the model, read before the cascade; may be null
   * @param suite the suite
   * @param test the test split
   * @param dataPath the data folder for the report, or null
   * @param ortVersion ONNX Runtime's version for the report, or null
   * @param startNanos {@link System#nanoTime()} at the start, for the duration
   * @return the report
   */
  public Report evaluate(
      GradientClassifier attacked,
      Classifier deployed,
      Report.ModelInfo model,
      Supplier<List<Diagnostic>> modelDiagnostics,
      EvaluationSuite suite,
      ImageDataset test,
      String dataPath,
      String ortVersion,
      long startNanos) {
    Report.Tool tool =
        new Report.Tool("arat", TOOL_VERSION, ortVersion, System.getProperty("java.version"), null);
    return evaluate(
        attacked, deployed, model, modelDiagnostics, suite, test, dataPath, tool, null, startNanos);
  }

  /**
   * The engine-free core: evaluates {@code attacked}/{@code deployed} on {@code test} under {@code
   * suite}, recording into (and resuming from) {@code outDir}'s ledger when it is not null.
   *
   * @param attacked the model the attacks see (input gradients)
   * @param deployed the model whose verdict counts (may be the same object)
   * @param model what the report says about the model
   * @param modelDiagnostics diagnostics about the model, read before the cascade; may be null
   * @param suite the suite
   * @param test the test split
   * @param dataPath the data folder for the report, or null
   * @param tool software versions for the report
   * @param outDir the output folder for the ledger and the gallery, or null
   * @param startNanos {@link System#nanoTime()} at the start, for the duration
   * @return the report
   */
  public Report evaluate(
      GradientClassifier attacked,
      Classifier deployed,
      Report.ModelInfo model,
      Supplier<List<Diagnostic>> modelDiagnostics,
      EvaluationSuite suite,
      ImageDataset test,
      String dataPath,
      Report.Tool tool,
      Path outDir,
      long startNanos) {
    return evaluate(
        attacked,
        deployed,
        model,
        modelDiagnostics,
        suite,
        test,
        null,
        dataPath,
        tool,
        outDir,
        startNanos);
  }

  /**
   * As {@link #evaluate(GradientClassifier, Classifier, Report.ModelInfo, Supplier,
   * EvaluationSuite, ImageDataset, String, Report.Tool, Path, long)}, naming the test set's source
   * in the report; with an output folder and {@code save_adversarial} on, also writes the
   * adversarial examples ({@link Evidence}).
   */
  Report evaluate(
      GradientClassifier attacked,
      Classifier deployed,
      Report.ModelInfo model,
      Supplier<List<Diagnostic>> modelDiagnostics,
      EvaluationSuite suite,
      ImageDataset test,
      TestSets.Source source,
      String dataPath,
      Report.Tool tool,
      Path outDir,
      long startNanos) {
    TestSetChoice.requireMeaningfulEpsilons(suite, test);
    int k = deployed.numClasses();
    NonFiniteWatch nonFinite = new NonFiniteWatch();
    attacked = nonFinite.watch(attacked);
    deployed = nonFinite.watch(deployed);
    Map<Double, List<Attack>> attacks = new LinkedHashMap<>();
    for (double e : suite.epsilons()) {
      attacks.put(
          e,
          SuiteAttacks.build(
              suite,
              ReportAssembler.threat(suite, e),
              k,
              path -> surrogate(path, suite.normalization())));
    }
    int[] all = Permutations.firstOf(test.size(), suite.samples(), suite.seed());
    List<Integer> allList = new ArrayList<>(all.length);
    for (int i : all) {
      allList.add(i);
    }
    Report.DatasetInfo dataset =
        new Report.DatasetInfo(
            suite.data().dataset() != null ? suite.data().dataset() : test.name(),
            "test",
            dataPath,
            test.size(),
            test.subset(all).sha256(),
            source);
    Report report = null;
    Report base = baseline == null ? null : Merge.readBaseline(baseline);
    Ledger.Header header =
        new Ledger.Header(
            "header",
            Ledger.VERSION,
            tool,
            tool.executionProvider() == null ? "java" : tool.executionProvider(),
            model,
            suite,
            dataset,
            allList,
            shard);
    try (Ledger ledger =
        outDir == null ? Ledger.inMemory(header) : Ledger.open(outDir, header, fresh)) {
      int[] pos = shard.positions(all.length);
      int[] indices = new int[pos.length];
      for (int i = 0; i < pos.length; i++) {
        indices[i] = all[pos[i]];
      }
      Samples s = Samples.of(test, indices);

      List<Diagnostic> probe = ledger.probe();
      if (probe == null) {
        probe = new ArrayList<>(modelDiagnostics == null ? List.of() : modelDiagnostics.get());
        int p = Math.min(suite.checks().probeSamples(), all.length);
        Samples ps = Samples.of(test, java.util.Arrays.copyOf(all, p));
        boolean gradients =
            probe.stream()
                .noneMatch(d -> d.code().equals(Diagnostic.Code.WHITE_BOX_IMPOSSIBLE.code()));
        probe.addAll(
            Probes.run(attacked, deployed, ps.x(), ps.labels(), ps.ids(), suite, gradients));
        ledger.recordProbe(probe);
      }
      boolean probeNonFinite =
          probe.stream().anyMatch(d -> d.code().equals(Diagnostic.Code.NON_FINITE_LOGITS.code()));
      if (!probeNonFinite) { // recorded at once: a resumed or repeated run replays these batches,
        // not the NaN
        List<Diagnostic> recorded = new ArrayList<>(probe);
        recorded.add(
            Diagnostic.Code.NON_FINITE_LOGITS.of(
                "the model returned NaN or infinite logits for images"
                    + " scored during an earlier run into this output folder (clean images, attack steps or candidates),"
                    + " whose batches this run replays from its ledger; their predictions (argmax) are arbitrary, so"
                    + " accuracies and attack successes are not a measurement"));
        if (nonFinite.images()
            > 0) { // met by a sanity check (e.g. full-range PGD) after the clean one
          ledger.recordProbe(recorded);
        } else {
          nonFinite.onFirst(() -> ledger.recordProbe(recorded));
        }
      }
      boolean attacksImpossible = TrustChecks.attacksImpossible(probe);

      Map<Double, CascadeResult> results = new LinkedHashMap<>();
      boolean sweep = attacks.size() > 1;
      for (Map.Entry<Double, List<Attack>> e : attacks.entrySet()) {
        ThreatModel threat = ReportAssembler.threat(suite, e.getKey());
        Cascade cascade = new Cascade(threat, e.getValue(), suite.batchSize());
        if (attacksImpossible) {
          cascade = cascade.withoutAttacks();
        }
        Progress printer =
            new Progress(progress, interactive, s.x().n(), sweep ? threat.label() : null);
        Cascade.Listener l = listener == null ? printer : both(printer, listener);
        results.put(
            e.getKey(),
            cascade.run(
                attacked, deployed, s.x(), s.labels(), s.ids(), l, ledger.journal(e.getKey())));
      }
      if (resultSink != null) {
        resultSink.accept(results);
      }
      List<Integer> shardIndices = new ArrayList<>(indices.length);
      for (int i : indices) {
        shardIndices.add(i);
      }
      List<Diagnostic> extra = new ArrayList<>();
      if (nonFinite.images() > 0 && !probeNonFinite) {
        extra.add(
            nonFinite.diagnostic(
                "scored during this run (clean images, attack steps and candidates)"));
      }
      ReportAssembler.Context ctx =
          new ReportAssembler.Context(
              suite,
              tool,
              model,
              dataset,
              shard.whole() ? null : shard,
              shardIndices,
              probe,
              base,
              baseline == null ? null : baseline.toString(),
              extra,
              test.classNames());
      report = ReportAssembler.assemble(ctx, results, (System.nanoTime() - startNanos) / 1e9);
      if (outDir != null && gallery) {
        Gallery.write(
            outDir.resolve(GALLERY_FILE),
            report,
            s,
            attacks.get(suite.threatModel().epsilon()),
            attacked,
            test.classNames());
      }
      if (outDir != null) {
        Evidence.Written w = Evidence.write(outDir, report, ledger, suite.saveAdversarial());
        if (w != null && !w.missing().isEmpty() && progress != null) {
          progress.println(
              "warning: "
                  + w.missing().size()
                  + " broken sample(s) have no saved adversarial image in "
                  + "the resumed ledger (written by an older arat); rerun with --fresh to save them all");
        }
      }
    }
    return report;
  }

  /** Images, labels and ids of chosen samples. */
  record Samples(ImageBatch x, int[] labels, long[] ids) {
    static Samples of(ImageDataset test, int[] indices) {
      ImageBatch x =
          new ImageBatch(
              test.gatherPixels(indices),
              indices.length,
              test.channels(),
              test.height(),
              test.width());
      long[] ids = new long[indices.length];
      for (int i = 0; i < indices.length; i++) {
        ids[i] = indices[i];
      }
      return new Samples(x, test.gatherLabels(indices), ids);
    }
  }

  private static Cascade.Listener both(Cascade.Listener a, Cascade.Listener b) {
    return new Cascade.Listener() {
      @Override
      public void cleanDone(int correct, int total) {
        a.cleanDone(correct, total);
        b.cleanDone(correct, total);
      }

      @Override
      public void attackStarted(int index, Attack attack, int todo) {
        a.attackStarted(index, attack, todo);
        b.attackStarted(index, attack, todo);
      }

      @Override
      public void progress(int index, int done, int todo) {
        a.progress(index, done, todo);
        b.progress(index, done, todo);
      }

      @Override
      public void attackFinished(int index, CascadeResult.AttackStats stats) {
        a.attackFinished(index, stats);
        b.attackFinished(index, stats);
      }
    };
  }

  /** Closes the surrogates a run opened, without a checked exception. */
  private interface SurrogateScope extends AutoCloseable {
    @Override
    void close();
  }

  private final Map<String, OrtClassifier> surrogates = new LinkedHashMap<>();

  /**
   * Opens (once per run) the surrogate ONNX model of a {@code transfer} attack; a relative path is
   * resolved against the working directory. The suite's {@code normalization} (null: none) applies
   * to the surrogate as to the model under test: the usual surrogate is the float parent of a
   * quantized variant, which expects the same input.
   */
  private GradientClassifier surrogate(String path, EvaluationSuite.Normalization normalization) {
    return surrogates.computeIfAbsent(
        path, p -> OrtClassifier.open(Path.of(p), runtime, normalization));
  }

  private void closeSurrogates() {
    surrogates.values().forEach(OrtClassifier::close);
    surrogates.clear();
  }
}
