package dev.arat.evaluator.run;

import dev.arat.attack.CascadeResult;
import dev.arat.attack.ImageBatch;
import dev.arat.data.ImageDataset;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.evaluator.ort.RuntimeOptions;
import dev.arat.evaluator.report.Plots;
import dev.arat.evaluator.report.Progress;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.evaluator.report.Wilson;
import dev.arat.specs.AtomicFiles;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Specs;
import dev.arat.specs.ThreatModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/**
 * Evaluates a parent ONNX model and its variants (e.g. its INT8 and FP16 versions, any ONNX file
 * with the same input and classes) under one suite on the same samples, and compares them: each
 * one's clean and robust accuracy with 95% intervals, the robustness drift against the parent
 * (robust-accuracy drop, newly broken and newly robust samples), the clean top-1 agreement with the
 * parent, and the <em>transfer</em> of the parent's adversarial examples: the counted adversarial
 * point of every sample the parent's cascade broke, re-scored on each variant.
 *
 * <p>Every model runs the whole suite through the same {@link SuiteRunner} (its own cascade, its
 * own gates: the variant is what ships). The comparison adds the gates {@code
 * max_robust_drop_vs_parent} and {@code min_top1_agreement} of the suite's {@code gates} block, one
 * check per variant. Output layout ({@link #writeAll}): the parent's report files in the output
 * folder, each variant's in {@code variants/<name>/}, {@value #JSON_FILE}, {@value #PLOT_FILE}, and
 * a "Variants" section appended to the parent's {@code report.md}.
 */
public final class VariantComparison {
  /** The comparison as JSON, in the output folder. */
  public static final String JSON_FILE = "variants.json";

  /** Clean and robust accuracy of the parent and every variant, side by side. */
  public static final String PLOT_FILE = "variants.png";

  /** Sub-folder holding one folder of report files per variant. */
  public static final String VARIANTS_DIR = "variants";

  /** Metadata key of a variant's precision, as {@code arat quantize} writes it. */
  public static final String PRECISION_KEY = "arat.quantize.precision";

  /**
   * Metadata key of the SHA-256 of the file a variant was made from, as {@code arat quantize}
   * writes it.
   */
  public static final String PARENT_KEY = "arat.quantize.parent_sha256";

  /** Layout version of {@value #JSON_FILE}. */
  public static final int SCHEMA_VERSION = 1;

  private VariantComparison() {}

  /**
   * The comparison ({@value #JSON_FILE}). Accuracies and drops are fractions in {@code [0,1]}.
   *
   * @param schemaVersion {@link #SCHEMA_VERSION}
   * @param suite the suite's name
   * @param threatModel the budget
   * @param samples samples every model was evaluated on
   * @param samplesSha256 SHA-256 of those samples (the same for every model)
   * @param parent the parent model
   * @param variants the variants, in the order given
   * @param gates the variant gates (one per variant and gate; empty when the suite sets none)
   * @param trusted every report is trusted
   * @param passed trusted, every report passed its own gates and every variant gate passed
   */
  public record Result(
      int schemaVersion,
      String suite,
      ThreatModel threatModel,
      int samples,
      String samplesSha256,
      Entry parent,
      List<Entry> variants,
      List<Report.Gate> gates,
      boolean trusted,
      boolean passed) {
    /** Copies the lists. */
    public Result {
      variants = List.copyOf(variants);
      gates = List.copyOf(gates);
    }
  }

  /**
   * One model.
   *
   * @param name the file name (e.g. {@code model.int8.onnx})
   * @param path the file as given
   * @param sha256 SHA-256 of the file's bytes
   * @param precision the model's {@value #PRECISION_KEY} metadata ({@code int8}, {@code fp16}:
   *     written by {@code arat quantize}), or null
   * @param madeFromParent whether the variant's {@value #PARENT_KEY} metadata names the parent
   *     file's SHA-256; null for the parent and for variants that name no parent
   * @param report its report.json, relative to the output folder
   * @param cleanAccuracy clean accuracy
   * @param cleanAccuracyCi95 its 95% Wilson interval
   * @param robustAccuracy robust accuracy after the whole cascade
   * @param robustAccuracyCi95 its 95% Wilson interval
   * @param robustDropVsParent parent's robust accuracy minus this one's (positive: less robust);
   *     null for the parent
   * @param top1Agreement fraction of samples whose clean top-1 class equals the parent's; null for
   *     the parent
   * @param transfer the parent's adversarial examples scored on this model; null for the parent
   * @param newlyBroken dataset indices robust on the parent and not on this model; null for the
   *     parent
   * @param newlyRobust dataset indices robust on this model and not on the parent; null for the
   *     parent
   * @param trusted its report is trusted
   * @param passed its report passed its own gates
   * @param durationSeconds wall-clock time of its evaluation
   */
  public record Entry(
      String name,
      String path,
      String sha256,
      String precision,
      Boolean madeFromParent,
      String report,
      double cleanAccuracy,
      Report.Interval cleanAccuracyCi95,
      double robustAccuracy,
      Report.Interval robustAccuracyCi95,
      Double robustDropVsParent,
      Double top1Agreement,
      Transfer transfer,
      List<Long> newlyBroken,
      List<Long> newlyRobust,
      boolean trusted,
      boolean passed,
      double durationSeconds) {}

  /**
   * The parent's adversarial examples on a variant.
   *
   * @param parentAdversarial samples the parent's cascade broke
   * @param scored of which scored on the variant (the rest were replayed from a ledger, which holds
   *     no pixels: rerun with {@code --fresh} to score them)
   * @param fooled of which the variant misclassifies
   * @param rate {@code fooled / scored}, or null when nothing was scored
   * @param rateCi95 its 95% Wilson interval, or null
   */
  public record Transfer(
      int parentAdversarial, int scored, int fooled, Double rate, Report.Interval rateCi95) {}

  /**
   * Everything one evaluation of a parent and its variants produced.
   *
   * @param parent the parent's report
   * @param variants the variants' reports, in the order given
   * @param comparison the comparison
   */
  public record Outcome(Report parent, List<Report> variants, Result comparison) {
    /** Copies the list. */
    public Outcome {
      variants = List.copyOf(variants);
    }
  }

  /**
   * Evaluates {@code parent} and every variant under {@code suite} on the same samples.
   *
   * @param runner the runner's options (threads, provider, progress, baseline...); no shard
   * @param runtime the runtime the variants' sessions use to score the parent's adversarial points
   * @param parent the parent {@code .onnx} file
   * @param variants the variant files (distinct file names)
   * @param suite the suite (defaults applied)
   * @param dataDir dataset folder overriding the suite's, or null
   * @param outDir the output folder: the parent's ledger here, each variant's in {@code
   *     variants/<name>/}
   * @return the reports and the comparison (nothing written yet but the ledgers: {@link #writeAll})
   */
  public static Outcome run(
      SuiteRunner.Builder runner,
      RuntimeOptions runtime,
      Path parent,
      List<Path> variants,
      EvaluationSuite suite,
      Path dataDir,
      Path outDir) {
    Set<String> names = new HashSet<>();
    names.add(nameOf(parent));
    for (Path v : variants) {
      if (!names.add(nameOf(v))) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            "two models are named '"
                + nameOf(v)
                + "': give variants distinct file names (their reports go to "
                + VARIANTS_DIR
                + "/<name>/)");
      }
    }
    // every variant must open before the parent's run: a bad variant found afterwards would leave
    // the
    // parent's ledger behind, and a resumed parent cannot re-score its adversarial examples
    for (Path v : variants) {
      dev.arat.onnx.OnnxModels.load(v);
    }
    AtomicReference<Map<Double, CascadeResult>> captured = new AtomicReference<>();
    Report parentReport =
        runner.optResultSink(captured::set).build().run(parent, suite, dataDir, outDir);
    runner.optResultSink(null);
    CascadeResult parentResult = captured.get().get(suite.threatModel().epsilon());
    ParentAdversarials adv = parentAdversarials(parentResult, parentReport, suite, parent, dataDir);

    List<Report> reports = new ArrayList<>();
    List<Entry> entries = new ArrayList<>();
    List<Report.Gate> gates = new ArrayList<>();
    EvaluationSuite.Gates g = suite.gates();
    for (Path v : variants) {
      String name = nameOf(v);
      Report r =
          runner.build().run(v, suite, dataDir, outDir.resolve(VARIANTS_DIR).resolve(stem(name)));
      if (!r.sampleIndices().equals(parentReport.sampleIndices())
          || !java.util.Objects.equals(
              r.dataset().samplesSha256(), parentReport.dataset().samplesSha256())) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            "variant "
                + v
                + " was evaluated on other samples than the parent (another dataset?); variants must share the"
                + " parent's input and data");
      }
      Transfer t = transfer(adv, v, runtime, suite.normalization(), suite.batchSize());
      Entry e =
          entry(
              v, r, VARIANTS_DIR + "/" + stem(name) + "/" + ReportFiles.JSON_FILE, parentReport, t);
      reports.add(r);
      entries.add(e);
      if (g.maxRobustDropVsParent() != null) {
        boolean ok = e.robustDropVsParent() <= g.maxRobustDropVsParent() + 1e-12;
        gates.add(
            new Report.Gate(
                "max_robust_drop_vs_parent[" + name + "]",
                g.maxRobustDropVsParent(),
                e.robustDropVsParent(),
                ok,
                "max",
                "point",
                false,
                String.format(
                    Locale.ROOT,
                    "robust accuracy %.2f%% (parent) -> %.2f%%; %d sample(s) newly broken",
                    100 * parentReport.robustAccuracy(),
                    100 * r.robustAccuracy(),
                    e.newlyBroken().size())));
      }
      if (g.minTop1Agreement() != null) {
        gates.add(
            new Report.Gate(
                "min_top1_agreement[" + name + "]",
                g.minTop1Agreement(),
                e.top1Agreement(),
                e.top1Agreement() >= g.minTop1Agreement(),
                "min",
                "point",
                false,
                null));
      }
    }
    Entry p = entry(parent, parentReport, ReportFiles.JSON_FILE, null, null);
    boolean trusted = parentReport.trusted() && reports.stream().allMatch(Report::trusted);
    boolean passed =
        trusted
            && parentReport.passed()
            && reports.stream().allMatch(Report::passed)
            && gates.stream().allMatch(Report.Gate::passed);
    Result result =
        new Result(
            SCHEMA_VERSION,
            suite.name(),
            suite.threatModel(),
            parentReport.samples(),
            parentReport.dataset().samplesSha256(),
            p,
            entries,
            gates,
            trusted,
            passed);
    return new Outcome(parentReport, reports, result);
  }

  /**
   * Writes every file: the parent's report files into {@code dir} (its {@code report.md} with the
   * "Variants" section, its {@code junit.xml} with the variant gates as test cases), each variant's
   * into {@code dir/variants/<name>/}, {@value #JSON_FILE} and {@value #PLOT_FILE}.
   *
   * @return the parent's report.json first, then the other files written into {@code dir}
   */
  public static List<Path> writeAll(Outcome o, Path dir) {
    List<Path> files = new ArrayList<>(ReportFiles.writeAll(o.parent(), dir));
    for (int i = 0; i < o.variants().size(); i++) {
      ReportFiles.writeAll(
          o.variants().get(i),
          dir.resolve(VARIANTS_DIR).resolve(stem(o.comparison().variants().get(i).name())));
    }
    try {
      AtomicFiles.writeString(
          dir.resolve(ReportFiles.MARKDOWN_FILE),
          ReportFiles.toMarkdown(o.parent()) + toMarkdown(o.comparison()));
      AtomicFiles.writeString(
          dir.resolve(ReportFiles.JUNIT_FILE),
          ReportFiles.toJUnit(o.parent(), o.comparison().gates()));
      Path json = dir.resolve(JSON_FILE);
      AtomicFiles.writeString(json, Specs.toJson(o.comparison()) + "\n");
      files.add(json);
      Path png = dir.resolve(PLOT_FILE);
      AtomicFiles.write(png, png(o.comparison()));
      files.add(png);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot write the variant comparison into " + dir + ": " + e.getMessage(), e);
    }
    return files;
  }

  /** Reads a {@value #JSON_FILE} back (strict). */
  public static Result readJson(String json) {
    try {
      return Specs.json().readValue(json, Result.class);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalArgumentException("not a " + JSON_FILE + ": " + e.getOriginalMessage(), e);
    }
  }

  /** The "Variants" section of report.md: one row per model, then the variant gates. */
  public static String toMarkdown(Result c) {
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            Locale.ROOT, "%n### Variants (same suite, same %d samples)%n%n", c.samples()));
    b.append(
        "| model | precision | clean | 95% CI | robust | 95% CI | drop vs parent | top-1 agreement "
            + "| parent's adversarials fooling it | verdict | time |\n|---|---|---:|---|---:|---|---:|---:|---:|---|---:|\n");
    List<Entry> all = new ArrayList<>();
    all.add(c.parent());
    all.addAll(c.variants());
    for (Entry e : all) {
      boolean parent = e == c.parent();
      String transfer =
          parent
              ? "—"
              : e.transfer().rate() == null
                  ? "n/a"
                  : String.format(
                      Locale.ROOT,
                      "%s (%d/%d)",
                      pct(e.transfer().rate()),
                      e.transfer().fooled(),
                      e.transfer().scored());
      b.append(
          String.format(
              Locale.ROOT,
              "| `%s`%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |%n",
              e.name(),
              parent ? " (parent)" : "",
              e.precision() == null ? "—" : e.precision(),
              pct(e.cleanAccuracy()),
              ci(e.cleanAccuracyCi95()),
              pct(e.robustAccuracy()),
              ci(e.robustAccuracyCi95()),
              parent ? "—" : String.format(Locale.ROOT, "%.2f pt", 100 * e.robustDropVsParent()),
              parent ? "—" : pct(e.top1Agreement()),
              transfer,
              !e.trusted() ? "untrusted" : e.passed() ? "passed" : "failed",
              Progress.duration(e.durationSeconds())));
    }
    if (!c.gates().isEmpty()) {
      b.append("\nVariant gates:\n\n");
      for (Report.Gate g : c.gates()) {
        b.append("- ")
            .append(g.passed() ? "✅ " : "❌ ")
            .append(ReportFiles.gateText(g))
            .append(g.detail() == null ? "" : " (" + g.detail() + ")")
            .append('\n');
      }
    }
    for (Entry e : c.variants()) {
      if (Boolean.FALSE.equals(e.madeFromParent())) {
        b.append(
            String.format(
                Locale.ROOT,
                "%n⚠️ `%s` was made from another model (its %s is not the parent's"
                    + " SHA-256 %s).%n",
                e.name(),
                PARENT_KEY,
                c.parent().sha256()));
      }
    }
    for (Entry e : c.variants()) {
      if (e.transfer().scored() < e.transfer().parentAdversarial()) {
        b.append(
            String.format(
                Locale.ROOT,
                "%n%d of the parent's %d adversarial examples were replayed from its ledger"
                    + " (no pixels) and not scored on the variants; rerun with --fresh to score all.%n",
                e.transfer().parentAdversarial() - e.transfer().scored(),
                e.transfer().parentAdversarial()));
        break;
      }
    }
    return b.toString();
  }

  /** Clean and robust accuracy per model, PNG bytes. */
  public static byte[] png(Result c) throws IOException {
    Plots.headless();
    List<String> names = new ArrayList<>();
    List<Double> clean = new ArrayList<>();
    List<Double> robust = new ArrayList<>();
    names.add(c.parent().name() + " (parent)");
    clean.add(c.parent().cleanAccuracy());
    robust.add(c.parent().robustAccuracy());
    for (Entry e : c.variants()) {
      names.add(e.name());
      clean.add(e.cleanAccuracy());
      robust.add(e.robustAccuracy());
    }
    CategoryChart chart =
        new CategoryChartBuilder()
            .width(720)
            .height(460)
            .title(
                c.suite()
                    + ": parent and variants ("
                    + c.threatModel().label()
                    + ", "
                    + c.samples()
                    + " samples)")
            .xAxisTitle("model")
            .yAxisTitle("accuracy")
            .build();
    chart.getStyler().setYAxisMin(0.0).setYAxisMax(1.0).setDecimalPattern("0.##");
    chart.addSeries("clean", names, clean);
    chart.addSeries("robust", names, robust);
    return BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
  }

  /** The parent's counted adversarial points that can be scored (not replayed from a ledger). */
  private record ParentAdversarials(int broken, ImageBatch points, int[] labels) {}

  private static ParentAdversarials parentAdversarials(
      CascadeResult r, Report parentReport, EvaluationSuite suite, Path parent, Path dataDir) {
    TestSetChoice chosen = TestSetChoice.of(parent, suite, dataDir); // the parent run's test set
    ImageDataset test = dev.arat.data.TestSets.load(chosen.suite().data(), chosen.dataDir()).data();
    int per = r.adversarial().imageSize();
    float[] adv = r.adversarial().data();
    List<Integer> rows = new ArrayList<>();
    int broken = 0;
    for (int i = 0; i < r.size(); i++) {
      CascadeResult.SampleOutcome s = r.samples().get(i);
      if (s.brokenBy() == null) {
        continue;
      }
      broken++;
      float[] clean = test.gatherPixels(new int[] {(int) s.sampleId()});
      // a broken sample's counted point differs from its (correctly classified) clean image,
      // unless it was replayed from the ledger
      if (!java.util.Arrays.equals(clean, 0, per, adv, i * per, (i + 1) * per)) {
        rows.add(i);
      }
    }
    int[] sel = rows.stream().mapToInt(Integer::intValue).toArray();
    int[] labels = new int[sel.length];
    for (int j = 0; j < sel.length; j++) {
      labels[j] = r.samples().get(sel[j]).label();
    }
    return new ParentAdversarials(broken, r.adversarial().select(sel), labels);
  }

  private static Transfer transfer(
      ParentAdversarials adv,
      Path variant,
      RuntimeOptions runtime,
      EvaluationSuite.Normalization normalization,
      int batchSize) {
    int n = adv.points().n();
    int fooled = 0;
    if (n > 0) {
      try (OrtClassifier m = OrtClassifier.open(variant, runtime, normalization)) {
        int k = m.numClasses();
        for (int start = 0; start < n; start += batchSize) {
          int[] rows = new int[Math.min(batchSize, n - start)];
          for (int j = 0; j < rows.length; j++) {
            rows[j] = start + j;
          }
          float[] z = m.logits(adv.points().select(rows));
          for (int j = 0; j < rows.length; j++) {
            int best = 0;
            for (int c = 1; c < k; c++) {
              if (z[j * k + c] > z[j * k + best]) {
                best = c;
              }
            }
            fooled += best != adv.labels()[start + j] ? 1 : 0;
          }
        }
      }
    }
    if (n == 0) {
      return new Transfer(adv.broken(), 0, 0, null, null);
    }
    Wilson.Interval ci = Wilson.interval95(fooled, n);
    return new Transfer(
        adv.broken(), n, fooled, (double) fooled / n, new Report.Interval(ci.low(), ci.high()));
  }

  private static Entry entry(
      Path file, Report r, String reportPath, Report parent, Transfer transfer) {
    Map<String, String> meta = r.model().metadata() == null ? Map.of() : r.model().metadata();
    String precision = meta.get(PRECISION_KEY);
    Boolean fromParent =
        parent == null || meta.get(PARENT_KEY) == null
            ? null
            : meta.get(PARENT_KEY).equals(parent.model().sha256());
    Double drop = null;
    Double agreement = null;
    List<Long> broken = null;
    List<Long> fixed = null;
    if (parent != null) {
      drop = parent.robustAccuracy() - r.robustAccuracy();
      Map<Long, Report.SampleEntry> before = new HashMap<>();
      for (Report.SampleEntry e : parent.perSample()) {
        before.put(e.index(), e);
      }
      int agree = 0;
      broken = new ArrayList<>();
      fixed = new ArrayList<>();
      for (Report.SampleEntry e : r.perSample()) {
        Report.SampleEntry p = before.get(e.index());
        agree += p.cleanPred() == e.cleanPred() ? 1 : 0;
        if (p.robust() && !e.robust()) {
          broken.add(e.index());
        } else if (!p.robust() && e.robust()) {
          fixed.add(e.index());
        }
      }
      agreement = r.samples() == 0 ? 0.0 : (double) agree / r.samples();
    }
    return new Entry(
        nameOf(file),
        file.toString(),
        r.model().sha256(),
        precision,
        fromParent,
        reportPath,
        r.cleanAccuracy(),
        r.cleanAccuracyCi95(),
        r.robustAccuracy(),
        r.robustAccuracyCi95(),
        drop,
        agreement,
        transfer,
        broken,
        fixed,
        r.trusted(),
        r.passed(),
        r.durationSeconds());
  }

  /** The file name of a model path. */
  static String nameOf(Path p) {
    return p.getFileName().toString();
  }

  /** The file name without {@code .onnx}: the folder of a variant's reports. */
  public static String stem(String name) {
    return name.toLowerCase(Locale.ROOT).endsWith(".onnx")
        ? name.substring(0, name.length() - 5)
        : name;
  }

  private static String pct(double v) {
    return String.format(Locale.ROOT, "%.2f%%", 100 * v);
  }

  private static String ci(Report.Interval i) {
    return String.format(Locale.ROOT, "[%.1f, %.1f]", 100 * i.low(), 100 * i.high());
  }
}
