package dev.arat.evaluator.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.attack.CascadeResult;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.evaluator.Fixtures;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportAssembler;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.LossHead;
import dev.arat.specs.SpecException;
import dev.arat.specs.Specs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Each diagnostic fires when it should, with its code and severity, and is documented. */
class DiagnosticsTest {
  static final String SUITE =
      String.join(
          "\n",
          "name: diag",
          "data: {dataset: synthetic}",
          "samples: 24",
          "seed: 2",
          "batch_size: 12",
          "threat_model: {norm: Linf, epsilon: 0.1}",
          "attacks: [{type: pgd, steps: 3}]",
          "");

  static Report run(String suiteText, GradientClassifier m) {
    EvaluationSuite s = Specs.parse(suiteText, EvaluationSuite.class, "diag.yaml");
    return LedgerTest.runJava(s, m, null, false);
  }

  static List<String> codes(Report r) {
    return r.diagnosticRecords().stream().map(Diagnostic::code).toList();
  }

  @Test
  void docsExplainEveryCode() throws Exception {
    String doc = Files.readString(Path.of("..", "docs", "diagnostics.md"));
    for (Diagnostic.Code c : Diagnostic.Code.values()) {
      String anchor = "<a id=\"" + c.code().toLowerCase(java.util.Locale.ROOT) + "\"></a>";
      int at = doc.indexOf(anchor);
      assertTrue(at >= 0, "docs/diagnostics.md lacks " + anchor);
      int next = doc.indexOf("<a id=\"arat-d", at + anchor.length());
      String section = doc.substring(at, next < 0 ? doc.length() : next);
      assertTrue(section.contains("## " + c.code() + " " + c.id()), c.code() + " heading");
      for (String part : List.of("**Raised if", "**Why it matters:**", "**What to do:**")) {
        assertTrue(section.contains(part), c.code() + " lacks " + part);
      }
      assertEquals(
          "docs/diagnostics.md#" + c.code().toLowerCase(java.util.Locale.ROOT), c.of("x").doc());
    }
  }

  @Test
  void aCleanModelHasNoWarnings() {
    Report r =
        run(
            SUITE + "checks: {full_range_pgd: true, full_range_steps: 10}\n",
            Fixtures.java(Fixtures.syntheticNearestMean()));
    assertTrue(r.trusted(), r.diagnostics().toString());
    assertEquals(List.of("ARAT-D007"), codes(r));
    assertEquals(Diagnostic.Severity.INFO, r.diagnosticRecords().get(0).severity());
    assertTrue(
        r.diagnostics().get(0).startsWith("ARAT-D007 [info] full-range-pgd: "),
        r.diagnostics().toString());
  }

  @Test
  void aRandomisedModelIsUntrusted() {
    GradientClassifier base = Fixtures.java(Fixtures.syntheticNearestMean());
    Random rng = new Random(1);
    GradientClassifier noisy =
        new GradientClassifier() {
          @Override
          public int numClasses() {
            return base.numClasses();
          }

          @Override
          public float[] logits(ImageBatch x) {
            float[] z = base.logits(x);
            for (int i = 0; i < z.length; i++) {
              z[i] += (float) (0.5 * rng.nextGaussian());
            }
            return z;
          }

          @Override
          public LossGradient lossGradient(
              ImageBatch x, int[] labels, int[] targets, LossHead head) {
            return base.lossGradient(x, labels, targets, head);
          }
        };
    Report r = run(SUITE, noisy);
    assertTrue(codes(r).contains("ARAT-D001"), r.diagnostics().toString());
    assertFalse(r.trusted());
    assertFalse(r.passed());
  }

  @Test
  void maskedGradientsWarnAndFailTheFullRangeCheck() {
    GradientClassifier masked =
        LedgerTest.zeroGradient(Fixtures.java(Fixtures.syntheticNearestMean()));
    Report r =
        run(
            SUITE + "checks: {full_range_pgd: true, full_range_steps: 5, chance_margin: 0.05}\n",
            masked);
    assertTrue(codes(r).contains("ARAT-D003"), r.diagnostics().toString());
    Diagnostic pgd =
        r.diagnosticRecords().stream()
            .filter(d -> d.code().equals("ARAT-D007"))
            .findFirst()
            .orElseThrow();
    assertEquals(Diagnostic.Severity.FATAL, pgd.severity());
    assertFalse(r.trusted());
    // checks can be switched off
    Report off = run(SUITE + "checks: {zero_gradient: false}\n", masked);
    assertFalse(codes(off).contains("ARAT-D003"));
  }

  @Test
  void squareBeatingGradientsAndBudgetViolationsComeFromTheResults() {
    EvaluationSuite suite = Specs.parse(SUITE, EvaluationSuite.class, "diag.yaml");
    int n = 20;
    List<CascadeResult.SampleOutcome> samples = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      boolean robust = i < 8;
      samples.add(
          new CascadeResult.SampleOutcome(
              i,
              0,
              0,
              robust,
              robust ? null : "square-100",
              robust ? -1 : 1,
              3,
              robust ? 0 : 1,
              0.1,
              1.0,
              robust ? 1.0 : -1.0));
    }
    List<CascadeResult.AttackStats> stats =
        List.of(
            new CascadeResult.AttackStats(
                0,
                "pgd-3-ce",
                Map.of(),
                20,
                10,
                0,
                0,
                10,
                0,
                dev.arat.attack.ModelCalls.NONE,
                false),
            new CascadeResult.AttackStats(
                1,
                "square-100",
                Map.of(),
                10,
                2,
                0,
                1,
                8,
                0,
                dev.arat.attack.ModelCalls.NONE,
                false));
    List<CascadeResult.Violation> v =
        List.of(new CascadeResult.Violation(1, "square-100", 5, 0.2, 3, "too far", true));
    CascadeResult r =
        new CascadeResult(samples, stats, v, new ImageBatch(new float[n], n, 1, 1, 1));
    Map<Double, CascadeResult> results = new LinkedHashMap<>();
    results.put(0.1, r);
    Report rep = ReportAssembler.assemble(context(suite), results, 0);
    assertTrue(
        codes(rep).containsAll(List.of("ARAT-D004", "ARAT-D006")), rep.diagnostics().toString());
    assertFalse(rep.trusted());
    assertEquals(1, rep.violations().size());
  }

  static ReportAssembler.Context context(EvaluationSuite suite) {
    return new ReportAssembler.Context(
        suite,
        new Report.Tool("arat", "t", null, "17", null),
        new Report.ModelInfo("m", "0", Map.of(), List.of(), 10),
        new Report.DatasetInfo("synthetic", "test", null, 512, "x"),
        null,
        List.of(),
        List.of(),
        null,
        null,
        List.of(),
        null);
  }

  @Test
  void tooFewClassesForALossIsASpecErrorWithItsCode() {
    EvaluationSuite suite =
        Specs.parse(
            SUITE.replace("steps: 3}", "steps: 3, loss: dlr}"), EvaluationSuite.class, "d.yaml");
    SpecException e = assertThrows(SpecException.class, () -> SuiteAttacks.build(suite, 2));
    assertTrue(e.getMessage().contains("ARAT-D005"), e.getMessage());
  }
}
