package dev.arat.evaluator;

import ai.onnxruntime.OrtEnvironment;
import dev.arat.attack.Attack;
import dev.arat.attack.Attacks;
import dev.arat.attack.Cascade;
import dev.arat.attack.CascadeResult;
import dev.arat.attack.Classifier;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossHeads;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Permutations;
import dev.arat.data.Split;
import dev.arat.specs.AttackSpec;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.LossHead;
import dev.arat.specs.SpecException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * Runs an evaluation suite on an ONNX model: loads the model into ONNX Runtime, loads the test
 * split, chooses the samples ({@code Permutations.firstOf(testSize, samples, seed)}), builds the
 * attacks (attack {@code i} seeded with {@link Attacks#seedFor}{@code (suite seed, i)}), runs the
 * {@link Cascade} (attacks through the input-gradient sessions, every candidate re-scored on the
 * forward session of the file), applies the gates and returns the {@link Report}.
 *
 * <p>Errors: {@link SpecException} (including {@code DatasetException}) for unusable suites or
 * data, {@link dev.arat.onnx.OnnxModelException} (and its {@code UnsupportedOpException}) for
 * missing, corrupt or non-differentiable models, {@link EvaluationException} for what ONNX Runtime
 * rejects or fails at. A report whose {@link Report#trusted()} is false must not be believed.
 */
public final class SuiteRunner {
  /** arat's version as written into reports. */
  public static final String TOOL_VERSION = "0.1.0";

  private final int intraOpThreads;
  private final PrintStream progress;
  private final boolean interactive;

  /** A runner with default threads, progress on {@code System.err}, in-place lines on a terminal. */
  public SuiteRunner() {
    this(0, System.err, System.console() != null);
  }

  /**
   * Creates a runner.
   *
   * @param intraOpThreads ONNX Runtime intra-op threads; {@code <= 0} means available processors
   * @param progress where progress lines go, or null for silence
   * @param interactive rewrite the progress line in place (pass {@code System.console() != null})
   */
  public SuiteRunner(int intraOpThreads, PrintStream progress, boolean interactive) {
    this.intraOpThreads = intraOpThreads;
    this.progress = progress;
    this.interactive = interactive;
  }

  /**
   * Evaluates an ONNX file.
   *
   * @param modelFile the {@code .onnx} classifier ({@code [0,1]} float32 NCHW input, logits output)
   * @param suite the suite (defaults applied)
   * @param dataDirOverride folder of the dataset files, overriding {@code suite.data().path()}; may
   *     be null
   * @return the report (gates applied)
   */
  public Report run(Path modelFile, EvaluationSuite suite, Path dataDirOverride) {
    long t0 = System.nanoTime();
    Path dataDir = dataDirOverride != null ? dataDirOverride
        : suite.data().path() != null ? Path.of(suite.data().path()) : null;
    ImageDataset test = Datasets.load(suite.data().dataset(), dataDir, Split.TEST);
    String sha = sha256(modelFile);
    try (OrtClassifier model = OrtClassifier.open(modelFile, intraOpThreads)) {
      if (model.channels() != test.channels() || model.height() != test.height() || model.width() != test.width()) {
        throw new EvaluationException(EvaluationException.Kind.INPUT, String.format(Locale.ROOT,
            "model file '%s' takes %dx%dx%d images (CxHxW) but %s has %dx%dx%d", modelFile, model.channels(),
            model.height(), model.width(), test.name(), test.channels(), test.height(), test.width()));
      }
      if (model.numClasses() != test.numClasses()) {
        throw new EvaluationException(EvaluationException.Kind.INPUT, String.format(Locale.ROOT,
            "model file '%s' outputs %d classes but %s has %d", modelFile, model.numClasses(), test.name(),
            test.numClasses()));
      }
      List<Long> shape = new ArrayList<>();
      for (long d : model.inputShape()) {
        shape.add(d);
      }
      Report.ModelInfo info = new Report.ModelInfo(modelFile.toString(), sha, model.metadata(), shape, model.numClasses());
      // fail fast on non-differentiable graphs, before the clean pass and any attack
      for (AttackSpec spec : suite.attacks()) {
        model.prepare(spec instanceof AttackSpec.Pgd p ? p.loss() : ((AttackSpec.Fgsm) spec).loss());
      }
      return evaluate(model, model, info, model::diagnostics, suite, test,
          dataDir == null ? null : dataDir.toString(), OrtEnvironment.getEnvironment().getVersion(), t0);
    }
  }

  /**
   * The engine-free core: evaluates {@code attacked}/{@code deployed} on {@code test} under {@code
   * suite}.
   *
   * @param attacked the model the attacks see (input gradients)
   * @param deployed the model whose verdict counts (may be the same object)
   * @param model what the report says about the model
   * @param modelDiagnostics notes about the model, read after the cascade (gradient sessions are
   *     built lazily); may be null
   * @param suite the suite
   * @param test the test split
   * @param dataPath the data folder for the report, or null
   * @param ortVersion ONNX Runtime's version for the report, or null
   * @param startNanos {@link System#nanoTime()} at the start, for the duration
   * @return the report
   */
  public Report evaluate(GradientClassifier attacked, Classifier deployed, Report.ModelInfo model,
      java.util.function.Supplier<List<String>> modelDiagnostics, EvaluationSuite suite, ImageDataset test,
      String dataPath, String ortVersion, long startNanos) {
    int k = deployed.numClasses();
    List<Attack> attacks = buildAttacks(suite, k);
    int[] indices = Permutations.firstOf(test.size(), suite.samples(), suite.seed());
    int n = indices.length;
    ImageBatch x = new ImageBatch(test.gatherPixels(indices), n, test.channels(), test.height(), test.width());
    int[] labels = test.gatherLabels(indices);
    long[] ids = new long[n];
    List<Integer> indexList = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      ids[i] = indices[i];
      indexList.add(indices[i]);
    }
    String samplesSha = test.subset(indices).sha256();

    Cascade cascade = new Cascade(suite.threatModel(), attacks, suite.batchSize());
    CascadeResult r = cascade.run(attacked, deployed, x, labels, ids, new Progress(progress, interactive, n));

    int clean = r.cleanCorrect();
    int robust = r.robustCount();
    List<Report.AttackEntry> entries = new ArrayList<>();
    List<String> diagnostics = new ArrayList<>();
    if (modelDiagnostics != null) {
      diagnostics.addAll(modelDiagnostics.get());
    }
    for (CascadeResult.AttackStats s : r.attacks()) {
      entries.add(new Report.AttackEntry(s.index(), s.name(), s.settings(), s.attempted(), s.successes(),
          s.unconfirmed(), s.violations(), s.skipped() ? robust : s.robustAfter(),
          (double) (s.skipped() ? robust : s.robustAfter()) / n, s.seconds(), s.skipped()));
      if (s.unconfirmed() > 0) {
        diagnostics.add(String.format(Locale.ROOT,
            "unconfirmed-successes: %s found %d adversarial points on the gradient graph that the model's own"
                + " session classifies correctly (numerical disagreement near the boundary, or a gradient graph"
                + " that differs from the model)", s.name(), s.unconfirmed()));
      }
    }
    if (!r.violations().isEmpty()) {
      diagnostics.add(String.format(Locale.ROOT,
          "budget-violation: %d candidate(s) broke the %s budget and were rejected; the measurement cannot be"
              + " trusted (an attack bug)", r.violations().size(), suite.threatModel().label()));
    }
    if (clean == 0) {
      diagnostics.add("no-clean-correct: the model classifies none of the samples correctly (wrong model,"
          + " dataset or preprocessing?)");
    }
    List<Report.ViolationEntry> violations = new ArrayList<>();
    for (CascadeResult.Violation v : r.violations()) {
      violations.add(new Report.ViolationEntry(v.attackIndex(), v.attack(), v.sampleId(), finite(v.linf()),
          finite(v.l2()), v.reason(), v.misclassified()));
    }
    double maxLinf = 0;
    double maxL2 = 0;
    List<Report.SampleEntry> perSample = new ArrayList<>(n);
    for (CascadeResult.SampleOutcome s : r.samples()) {
      if (s.brokenBy() != null) {
        maxLinf = Math.max(maxLinf, s.linf());
        maxL2 = Math.max(maxL2, s.l2());
      }
      perSample.add(new Report.SampleEntry(s.sampleId(), s.label(), s.cleanPrediction(), s.robust(), s.brokenBy(),
          s.attackIndex(), s.iteration(), s.prediction(), s.linf(), s.l2(), finite(s.margin())));
    }
    double cleanAcc = (double) clean / n;
    double robustAcc = (double) robust / n;
    List<Report.Gate> gates = new ArrayList<>();
    EvaluationSuite.Gates g = suite.gates();
    if (g.minCleanAccuracy() != null) {
      gates.add(new Report.Gate("min_clean_accuracy", g.minCleanAccuracy(), cleanAcc, cleanAcc >= g.minCleanAccuracy()));
    }
    if (g.minRobustAccuracy() != null) {
      gates.add(new Report.Gate("min_robust_accuracy", g.minRobustAccuracy(), robustAcc,
          robustAcc >= g.minRobustAccuracy()));
    }
    boolean trusted = r.violations().isEmpty();
    boolean passed = trusted && gates.stream().allMatch(Report.Gate::passed);
    Wilson.Interval cci = Wilson.interval95(clean, n);
    Wilson.Interval rci = Wilson.interval95(robust, n);
    return new Report(
        Report.SCHEMA_VERSION,
        new Report.Tool("arat", TOOL_VERSION, ortVersion, System.getProperty("java.version")),
        model,
        new Report.SuiteInfo(suite.name(), suite),
        new Report.DatasetInfo(suite.data().dataset(), "test", dataPath, test.size(), samplesSha),
        n,
        indexList,
        suite.seed(),
        suite.threatModel(),
        clean,
        cleanAcc,
        new Report.Interval(cci.low(), cci.high()),
        robust,
        robustAcc,
        new Report.Interval(rci.low(), rci.high()),
        entries,
        violations,
        new Report.MaxPerturbation(maxLinf, maxL2),
        perSample,
        gates,
        trusted,
        passed,
        diagnostics,
        (System.nanoTime() - startNanos) / 1e9);
  }

  /** Builds the suite's attacks; a setting the model cannot support is a {@link SpecException}. */
  static List<Attack> buildAttacks(EvaluationSuite suite, int numClasses) {
    List<Attack> attacks = new ArrayList<>();
    for (int i = 0; i < suite.attacks().size(); i++) {
      AttackSpec spec = suite.attacks().get(i);
      LossHead head = spec instanceof AttackSpec.Pgd p ? p.loss() : ((AttackSpec.Fgsm) spec).loss();
      if (numClasses < LossHeads.minClasses(head)) {
        throw new SpecException(String.format(Locale.ROOT, "attacks[%d].loss: %s needs at least %d classes, the model has %d",
            i, head.id(), LossHeads.minClasses(head), numClasses));
      }
      try {
        attacks.add(Attacks.fromSpec(spec, suite.threatModel(), Attacks.seedFor(suite.seed(), i)));
      } catch (IllegalArgumentException e) {
        throw new SpecException("attacks[" + i + "]: " + e.getMessage(), e);
      }
    }
    return attacks;
  }

  /** SHA-256 (hex) of a file's bytes. */
  static String sha256(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      for (int r; (r = in.read(buf)) > 0; ) {
        md.update(buf, 0, r);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (IOException e) {
      // the loader names missing or unreadable files precisely; defer to it
      return null;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Double finite(double v) {
    return Double.isFinite(v) ? v : null;
  }
}
