package dev.arat.evaluator.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.attack.GradientClassifier;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Split;
import dev.arat.evaluator.Fixtures;
import dev.arat.evaluator.run.SuiteRunner;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Specs;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Gates: point estimates or interval bounds, per radius, per class, against a baseline. */
class GatesTest {
  static final String BASE =
      String.join(
          "\n",
          "name: gates",
          "data: {dataset: synthetic}",
          "samples: 40",
          "seed: 3",
          "batch_size: 20",
          "threat_model: {norm: Linf, epsilon: 0.12}",
          "checks: {randomness: false, zero_gradient: false}",
          "");

  static Report run(String text, Path baseline) {
    EvaluationSuite s = Specs.parse(text, EvaluationSuite.class, "gates.yaml");
    ImageDataset test = Datasets.load("synthetic", null, Split.TEST);
    GradientClassifier m = Fixtures.java(Fixtures.syntheticNearestMean());
    Report.ModelInfo info = new Report.ModelInfo("java", "0".repeat(64), Map.of(), List.of(), 10);
    return SuiteRunner.builder()
        .optBaseline(baseline)
        .build()
        .evaluate(
            m,
            m,
            info,
            List::of,
            s,
            test,
            null,
            new Report.Tool("arat", "t", null, "17", null),
            null,
            0);
  }

  @Test
  void lowerBoundsAreStricterThanPointEstimates() {
    String attacks = "attacks: [{type: fgsm}]\n";
    Report point =
        run(BASE + attacks + "gates: {min_robust_accuracy: 0.5, min_clean_accuracy: 0.9}\n", null);
    double acc = point.robustAccuracy();
    assertTrue(acc > 0.5 && acc < 1, "robust accuracy " + acc);
    String gate = String.format(java.util.Locale.ROOT, "min_robust_accuracy: %.4f", acc - 0.01);
    Report p = run(BASE + attacks + "gates: {" + gate + "}\n", null);
    Report w = run(BASE + attacks + "gates: {" + gate + ", use_lower_bound: true}\n", null);
    Report cp =
        run(
            BASE
                + attacks
                + "gates: {"
                + gate
                + ", use_lower_bound: true, interval: clopper-pearson}\n",
            null);
    assertTrue(p.passed());
    assertEquals("point", p.gates().get(0).bound());
    assertFalse(w.passed());
    assertEquals("wilson_lower", w.gates().get(0).bound());
    assertEquals(w.robustAccuracyCi95().low(), w.gates().get(0).value(), 1e-12);
    assertEquals("clopper_pearson_lower", cp.gates().get(0).bound());
    assertTrue(
        cp.gates().get(0).value() < w.gates().get(0).value(),
        "Clopper-Pearson is more conservative here");
  }

  @Test
  void sweepAndClassGates() {
    Report r =
        run(
            BASE
                + "attacks: [{type: fgsm}]\nepsilon_sweep: [0.04, 0.3]\n"
                + "gates: {min_robust_accuracy_at: [{epsilon: 0.04, min: 0.5}, {epsilon: 0.3, min: 0.5}],"
                + " min_class_robust_accuracy: 0.01}\n",
            null);
    assertEquals(
        List.of(0.04, 0.12, 0.3), r.sweep().stream().map(Report.SweepEntry::epsilon).toList());
    assertTrue(r.sweep().get(0).robustAccuracy() >= r.sweep().get(1).robustAccuracy());
    assertTrue(r.sweep().get(1).robustAccuracy() >= r.sweep().get(2).robustAccuracy());
    assertEquals(r.robustCount(), r.sweep().get(1).robustCount());
    Report.Gate small = r.gate("min_robust_accuracy_at[eps=0.04]");
    Report.Gate large = r.gate("min_robust_accuracy_at[eps=0.3]");
    assertTrue(small.passed(), small.toString());
    assertFalse(large.passed(), large.toString());
    Report.Gate cls = r.gate("min_class_robust_accuracy");
    assertNotNull(cls.detail());
    assertTrue(cls.detail().startsWith("worst class "), cls.detail());
    double worst =
        r.perClass().stream().mapToDouble(Report.ClassEntry::robustAccuracy).min().orElseThrow();
    assertEquals(worst, cls.value(), 1e-12);
    assertEquals(40, r.perClass().stream().mapToInt(Report.ClassEntry::samples).sum());
    assertFalse(r.passed());
  }

  @Test
  void dropAgainstABaselineListsNewlyBrokenSamples(@TempDir Path dir) {
    // the baseline: the same samples, where a (hypothetical) earlier model kept every clean-correct
    // one
    Report measured = run(BASE + "attacks: [{type: fgsm}]\n", null);
    Report before = robustWhereCorrect(measured);
    Path json = ReportFiles.writeJson(before, dir);
    String both = BASE + "attacks: [{type: fgsm}]\ngates: {max_robust_drop: 0.0}\n";
    Report after = run(both, json);
    Report.Baseline b = after.baseline();
    assertTrue(b.sameSamples());
    assertEquals(before.robustAccuracy() - after.robustAccuracy(), b.drop(), 1e-12);
    assertTrue(b.drop() > 0, "FGSM breaks some samples");
    assertEquals(before.robustCount() - after.robustCount(), b.newlyBroken().size());
    for (long id : b.newlyBroken()) {
      assertTrue(before.sample(id).robust() && !after.sample(id).robust());
    }
    Report.Gate g = after.gate("max_robust_drop");
    assertFalse(g.passed());
    assertEquals("max", g.comparison());
    assertTrue(g.detail().contains("newly broken"), g.detail());
    assertFalse(after.passed());
    assertTrue(after.diagnosticRecords().isEmpty(), after.diagnostics().toString());

    // without a baseline the drop gate is skipped, not failed
    Report alone = run(both, null);
    assertTrue(alone.gate("max_robust_drop").skipped());
    assertTrue(alone.passed());

    // a baseline on other samples is compared with a warning
    Report other = run(both.replace("samples: 40", "samples: 30"), json);
    assertFalse(other.baseline().sameSamples());
    assertTrue(other.diagnosticRecords().stream().anyMatch(d -> d.code().equals("ARAT-D013")));
  }

  /** {@code r} as if every clean-correct sample had stayed robust. */
  static Report robustWhereCorrect(Report r) {
    List<Report.SampleEntry> ps =
        r.perSample().stream()
            .map(
                e ->
                    new Report.SampleEntry(
                        e.index(),
                        e.label(),
                        e.cleanPred(),
                        e.cleanPred() == e.label(),
                        null,
                        -1,
                        -1,
                        e.cleanPred(),
                        0,
                        0,
                        e.margin()))
            .toList();
    return new Report(
        r.schemaVersion(),
        r.tool(),
        r.model(),
        r.suite(),
        r.dataset(),
        r.shard(),
        r.samples(),
        r.sampleIndices(),
        r.seed(),
        r.threatModel(),
        r.cleanCorrect(),
        r.cleanAccuracy(),
        r.cleanAccuracyCi95(),
        r.cleanCorrect(),
        r.cleanAccuracy(),
        r.cleanAccuracyCi95(),
        r.attacks(),
        r.violations(),
        r.maxPerturbation(),
        ps,
        r.perClass(),
        r.sweep(),
        null,
        r.gates(),
        true,
        true,
        List.of(),
        List.of(),
        1.0);
  }

  @Test
  void clopperPearsonMatchesKnownValues() {
    // exact binomial intervals (e.g. R's binom.test)
    Wilson.Interval a = ClopperPearson.interval95(8, 10);
    assertEquals(0.4439, a.low(), 1e-4);
    assertEquals(0.9748, a.high(), 1e-4);
    Wilson.Interval b = ClopperPearson.interval95(0, 10);
    assertEquals(0.0, b.low(), 1e-12);
    assertEquals(0.3085, b.high(), 1e-4);
    Wilson.Interval c = ClopperPearson.interval95(50, 100);
    assertEquals(0.3983, c.low(), 1e-4);
    assertEquals(0.6017, c.high(), 1e-4);
    Wilson.Interval d = ClopperPearson.interval95(10, 10);
    assertEquals(1 - 0.3085, d.low(), 1e-4);
    assertEquals(1.0, d.high(), 1e-12);
  }
}
