package dev.arat.evaluator.report;

import dev.arat.attack.CascadeResult;
import dev.arat.evaluator.Shard;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.ThreatModel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds a {@link Report} from cascade results: aggregates, per-class and sweep entries, the
 * diagnostics computed from the results, the baseline comparison and the gates. Shared by the
 * {@link dev.arat.evaluator.run.SuiteRunner} and {@link dev.arat.evaluator.run.Merge}, so that a
 * merged report is assembled exactly like a single run's.
 */
public final class ReportAssembler {
  private ReportAssembler() {}

  /** What goes into a report besides the cascade results. */
  public record Context(
      EvaluationSuite suite,
      Report.Tool tool,
      Report.ModelInfo model,
      Report.DatasetInfo dataset,
      Shard shard,
      List<Integer> sampleIndices,
      List<Diagnostic> probe,
      Report baseline,
      String baselinePath,
      List<Diagnostic> extra,
      List<String> classNames) {}

  /**
   * Assembles the report.
   *
   * @param ctx suite, provenance, samples, probe diagnostics, baseline
   * @param results the cascade result at each radius of {@link EvaluationSuite#epsilons()}
   * @param seconds the evaluation's wall-clock time
   */
  public static Report assemble(Context ctx, Map<Double, CascadeResult> results, double seconds) {
    EvaluationSuite suite = ctx.suite();
    double eps0 = suite.threatModel().epsilon();
    CascadeResult r = results.get(eps0);
    int n = r.size();
    int clean = r.cleanCorrect();
    int robust = r.robustCount();

    List<Diagnostic> diags = new ArrayList<>(ctx.probe());
    diags.addAll(ctx.extra());
    for (Map.Entry<Double, CascadeResult> e : results.entrySet()) {
      diags.addAll(
          resultDiagnostics(
              e.getValue(),
              suite.threatModel().norm().id()
                  + " eps="
                  + dev.arat.specs.ThreatModel.formatEpsilon(e.getKey()),
              e.getKey() == eps0));
    }
    if (clean == 0 && n > 0) {
      diags.add(
          Diagnostic.Code.NO_CLEAN_CORRECT.of(
              "the model classifies none of the "
                  + n
                  + " samples correctly (wrong model, dataset or preprocessing?)"));
    }

    List<Report.ViolationEntry> violations = new ArrayList<>();
    for (CascadeResult.Violation v : r.violations()) {
      violations.add(
          new Report.ViolationEntry(
              v.attackIndex(),
              v.attack(),
              v.sampleId(),
              finite(v.linf()),
              finite(v.l2()),
              v.reason(),
              v.misclassified()));
    }
    List<Report.SampleEntry> perSample = new ArrayList<>(n);
    for (CascadeResult.SampleOutcome s : r.samples()) {
      perSample.add(
          new Report.SampleEntry(
              s.sampleId(),
              s.label(),
              s.cleanPrediction(),
              s.robust(),
              s.brokenBy(),
              s.attackIndex(),
              s.iteration(),
              s.prediction(),
              s.linf(),
              s.l2(),
              finite(s.margin())));
    }
    List<Report.SweepEntry> sweep = null;
    if (suite.epsilonSweep() != null) {
      sweep = new ArrayList<>();
      for (double e : new java.util.TreeSet<>(results.keySet())) {
        CascadeResult c = results.get(e);
        Wilson.Interval ci = Wilson.interval95(c.robustCount(), n);
        sweep.add(
            new Report.SweepEntry(
                e,
                c.robustCount(),
                ratio(c.robustCount(), n),
                new Report.Interval(ci.low(), ci.high()),
                c.violations().size(),
                maxPerturbation(c),
                entries(c, n)));
      }
    }
    List<Report.ClassEntry> perClass = perClass(r, ctx.classNames());
    Report.Baseline baseline = ctx.baseline() == null ? null : compare(ctx, r, diags);

    Wilson.Interval cci = Wilson.interval95(clean, n);
    Wilson.Interval rci = Wilson.interval95(robust, n);
    double cleanAcc = ratio(clean, n);
    double robustAcc = ratio(robust, n);
    List<Report.Gate> gates =
        ctx.shard() == null
            ? gates(suite.gates(), n, clean, robust, results, perClass, baseline)
            : List.of();
    // the order in which the checks ran, without exact duplicates
    List<Diagnostic> unique = new ArrayList<>(new LinkedHashSet<>(diags));
    boolean trusted = unique.stream().noneMatch(Diagnostic::fatal);
    boolean passed = trusted && gates.stream().allMatch(Report.Gate::passed);
    return new Report(
        Report.SCHEMA_VERSION,
        ctx.tool(),
        ctx.model(),
        new Report.SuiteInfo(suite.name(), suite),
        ctx.dataset(),
        ctx.shard(),
        n,
        ctx.sampleIndices(),
        suite.seed(),
        suite.threatModel(),
        clean,
        cleanAcc,
        new Report.Interval(cci.low(), cci.high()),
        robust,
        robustAcc,
        new Report.Interval(rci.low(), rci.high()),
        entries(r, n),
        violations,
        maxPerturbation(r),
        perSample,
        perClass,
        sweep,
        baseline,
        gates,
        trusted,
        passed,
        unique.stream().map(Diagnostic::line).toList(),
        unique,
        seconds);
  }

  private static List<Report.AttackEntry> entries(CascadeResult r, int n) {
    int robust = r.robustCount();
    List<Report.AttackEntry> out = new ArrayList<>();
    for (CascadeResult.AttackStats s : r.attacks()) {
      int after = s.skipped() ? robust : s.robustAfter();
      out.add(
          new Report.AttackEntry(
              s.index(),
              s.name(),
              s.settings(),
              s.attempted(),
              s.successes(),
              s.unconfirmed(),
              s.violations(),
              after,
              ratio(after, n),
              s.seconds(),
              s.calls(),
              s.skipped()));
    }
    return out;
  }

  private static Report.MaxPerturbation maxPerturbation(CascadeResult r) {
    double linf = 0;
    double l2 = 0;
    for (CascadeResult.SampleOutcome s : r.samples()) {
      if (s.brokenBy() != null) {
        linf = Math.max(linf, s.linf());
        l2 = Math.max(l2, s.l2());
      }
    }
    return new Report.MaxPerturbation(linf, l2);
  }

  /** Unconfirmed successes, budget violations and the Square check of one cascade. */
  private static List<Diagnostic> resultDiagnostics(CascadeResult r, String label, boolean main) {
    List<Diagnostic> out = new ArrayList<>();
    String at = main ? "" : " (sweep, " + label + ")";
    for (CascadeResult.AttackStats s : r.attacks()) {
      if (s.unconfirmed() > 0) {
        out.add(
            Diagnostic.Code.UNCONFIRMED_SUCCESSES.of(
                String.format(
                    Locale.ROOT,
                    "%s found %d adversarial points on the gradient graph that the model's own session classifies"
                        + " correctly%s (numerical disagreement near the boundary, or a gradient graph that differs from"
                        + " the model)",
                    s.name(),
                    s.unconfirmed(),
                    at)));
      }
    }
    if (!r.violations().isEmpty()) {
      out.add(
          Diagnostic.Code.BUDGET_VIOLATION.of(
              String.format(
                  Locale.ROOT,
                  "%d candidate(s) broke the %s budget and were rejected%s; the measurement cannot be trusted (an attack"
                      + " bug)",
                  r.violations().size(),
                  label,
                  at)));
    }
    // Square beating the white-box attacks (AutoAttack's check_square_sr): Square's cumulative
    // robust accuracy below the lowest of the other attacks' by more than 0.2 points
    int n = r.size();
    double others = Double.POSITIVE_INFINITY;
    Double square = null;
    String squareName = null;
    for (CascadeResult.AttackStats s : r.attacks()) {
      if (s.skipped()) {
        continue;
      }
      double acc = ratio(s.robustAfter(), n);
      if (s.name().toLowerCase(Locale.ROOT).contains("square")) {
        square = square == null ? acc : Math.min(square, acc);
        squareName = s.name();
      } else {
        others = Math.min(others, acc);
      }
    }
    if (square != null && others < Double.POSITIVE_INFINITY && square < others - 0.002) {
      out.add(
          Diagnostic.Code.SQUARE_BEATS_WHITE_BOX.of(
              String.format(
                  Locale.ROOT,
                  "the black-box %s lowered robust accuracy to %.2f%% below the gradient attacks' %.2f%%%s: the gradients"
                      + " are likely masked or obfuscated, so gradient-based numbers are optimistic",
                  squareName,
                  100 * square,
                  100 * others,
                  at)));
    }
    return out;
  }

  /**
   * A class's name for reports: the dataset's name for {@code label}, or null when there is none or
   * it only repeats the number.
   */
  public static String className(List<String> names, int label) {
    if (names == null || label < 0 || label >= names.size()) {
      return null;
    }
    String n = names.get(label);
    return n == null || n.isBlank() || n.equals(String.valueOf(label)) ? null : n;
  }

  private static List<Report.ClassEntry> perClass(CascadeResult r, List<String> names) {
    Map<Integer, int[]> m = new TreeMap<>();
    for (CascadeResult.SampleOutcome s : r.samples()) {
      int[] c = m.computeIfAbsent(s.label(), k -> new int[3]);
      c[0]++;
      c[1] += s.cleanCorrect() ? 1 : 0;
      c[2] += s.robust() ? 1 : 0;
    }
    List<Report.ClassEntry> out = new ArrayList<>();
    for (Map.Entry<Integer, int[]> e : m.entrySet()) {
      int[] c = e.getValue();
      Wilson.Interval ci = Wilson.interval95(c[2], c[0]);
      out.add(
          new Report.ClassEntry(
              e.getKey(),
              c[0],
              c[1],
              c[2],
              ratio(c[1], c[0]),
              ratio(c[2], c[0]),
              new Report.Interval(ci.low(), ci.high()),
              className(names, e.getKey())));
    }
    return out;
  }

  private static Report.Baseline compare(Context ctx, CascadeResult r, List<Diagnostic> diags) {
    Report b = ctx.baseline();
    boolean same = b.sampleIndices().equals(ctx.sampleIndices());
    Map<Long, Boolean> before = new HashMap<>();
    for (Report.SampleEntry e : b.perSample()) {
      before.put(e.index(), e.robust());
    }
    List<Long> broken = new ArrayList<>();
    List<Long> fixed = new ArrayList<>();
    for (CascadeResult.SampleOutcome s : r.samples()) {
      Boolean was = before.get(s.sampleId());
      if (was == null) {
        continue;
      }
      if (was && !s.robust()) {
        broken.add(s.sampleId());
      } else if (!was && s.robust()) {
        fixed.add(s.sampleId());
      }
    }
    List<String> why = new ArrayList<>();
    if (!same) {
      why.add(
          "other samples ("
              + b.samples()
              + " vs "
              + r.size()
              + ", "
              + before.size()
              + " evaluated"
              + " indices, "
              + r.samples().stream().filter(s -> before.containsKey(s.sampleId())).count()
              + " shared)");
    }
    if (!b.threatModel().equals(ctx.suite().threatModel())) {
      why.add(
          "another threat model ("
              + b.threatModel().label()
              + " vs "
              + ctx.suite().threatModel().label()
              + ")");
    }
    if (b.dataset() != null
        && !java.util.Objects.equals(b.dataset().name(), ctx.dataset().name())) {
      why.add("another dataset (" + b.dataset().name() + ")");
    }
    if (!why.isEmpty()) {
      diags.add(
          Diagnostic.Code.BASELINE_MISMATCH.of(
              "the baseline "
                  + ctx.baselinePath()
                  + " was measured on "
                  + String.join(", ", why)
                  + "; the drop compares aggregates and lists only shared samples"));
    }
    double drop = b.robustAccuracy() - ratio(r.robustCount(), r.size());
    return new Report.Baseline(
        ctx.baselinePath(),
        b.model() == null ? null : b.model().sha256(),
        b.samples(),
        b.robustCount(),
        b.robustAccuracy(),
        same,
        drop,
        broken,
        fixed);
  }

  /** Applies the gates (in a fixed order: clean, robust, per radius, per class, drop). */
  static List<Report.Gate> gates(
      EvaluationSuite.Gates g,
      int n,
      int clean,
      int robust,
      Map<Double, CascadeResult> results,
      List<Report.ClassEntry> perClass,
      Report.Baseline baseline) {
    List<Report.Gate> out = new ArrayList<>();
    boolean lower = g.useLowerBound();
    String interval = g.interval();
    if (g.minCleanAccuracy() != null) {
      out.add(min("min_clean_accuracy", g.minCleanAccuracy(), clean, n, lower, interval, null));
    }
    if (g.minRobustAccuracy() != null) {
      out.add(min("min_robust_accuracy", g.minRobustAccuracy(), robust, n, lower, interval, null));
    }
    if (g.minRobustAccuracyAt() != null) {
      for (EvaluationSuite.EpsilonGate e : g.minRobustAccuracyAt()) {
        CascadeResult c = results.get(e.epsilon());
        boolean lb = e.useLowerBound() != null ? e.useLowerBound() : lower;
        out.add(
            min(
                "min_robust_accuracy_at[eps=" + e.epsilon() + "]",
                e.min(),
                c.robustCount(),
                n,
                lb,
                interval,
                null));
      }
    }
    if (g.minClassRobustAccuracy() != null && !perClass.isEmpty()) {
      Report.Gate worst = null;
      for (Report.ClassEntry c : perClass) {
        Report.Gate one =
            min(
                "min_class_robust_accuracy",
                g.minClassRobustAccuracy(),
                c.robust(),
                c.samples(),
                lower,
                interval,
                String.format(
                    Locale.ROOT,
                    "worst class %d: %d/%d robust",
                    c.label(),
                    c.robust(),
                    c.samples()));
        if (worst == null || one.value() < worst.value()) {
          worst = one;
        }
      }
      out.add(worst);
    }
    if (g.maxRobustDrop() != null) {
      if (baseline == null) {
        out.add(
            new Report.Gate(
                "max_robust_drop",
                g.maxRobustDrop(),
                0,
                true,
                "max",
                "point",
                true,
                "no baseline report given (--baseline), not checked"));
      } else {
        boolean ok = baseline.drop() <= g.maxRobustDrop() + 1e-12;
        String detail =
            String.format(
                Locale.ROOT,
                "robust accuracy %.2f%% -> %.2f%%; %d sample(s) newly broken%s",
                100 * baseline.robustAccuracy(),
                100 * (baseline.robustAccuracy() - baseline.drop()),
                baseline.newlyBroken().size(),
                baseline.newlyBroken().isEmpty()
                    ? ""
                    : ": " + abbreviate(baseline.newlyBroken(), 20));
        out.add(
            new Report.Gate(
                "max_robust_drop",
                g.maxRobustDrop(),
                baseline.drop(),
                ok,
                "max",
                "point",
                false,
                detail));
      }
    }
    return out;
  }

  private static Report.Gate min(
      String name,
      double threshold,
      int count,
      int n,
      boolean lower,
      String interval,
      String detail) {
    double value;
    String bound;
    if (!lower) {
      value = ratio(count, n);
      bound = "point";
    } else if (interval.equals("clopper_pearson")) {
      value = ClopperPearson.interval95(count, n).low();
      bound = "clopper_pearson_lower";
    } else {
      value = Wilson.interval95(count, n).low();
      bound = "wilson_lower";
    }
    return new Report.Gate(name, threshold, value, value >= threshold, "min", bound, false, detail);
  }

  static String abbreviate(List<Long> ids, int max) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < Math.min(max, ids.size()); i++) {
      b.append(i == 0 ? "" : ", ").append(ids.get(i));
    }
    if (ids.size() > max) {
      b.append(", ... (").append(ids.size() - max).append(" more)");
    }
    return b.toString();
  }

  public static ThreatModel threat(EvaluationSuite suite, double eps) {
    return new ThreatModel(suite.threatModel().norm(), eps);
  }

  static double ratio(int a, int n) {
    return n == 0 ? 0 : (double) a / n;
  }

  static Double finite(double v) {
    return Double.isFinite(v) ? v : null;
  }
}
