package dev.arat.evaluator.run;

import static dev.arat.evaluator.run.ByoModelsTest.SUITE;
import static dev.arat.evaluator.run.ByoModelsTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Split;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.specs.SpecException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Verdicts that cannot lie (issue 10 §4), on the fixtures of {@code src/test/resources/byo/}: NaN
 * logits are fatal (ARAT-D016), and a model white-box attacks cannot differentiate gets one
 * diagnostic (ARAT-D017) whatever the suite, unless a black-box-only suite allows it explicitly.
 */
class HonestVerdictsTest {
  static final String SQUARE_SUITE =
      SUITE.replace(
          "  - type: fgsm\n  - {type: pgd, steps: 3, step_size: 0.01}\n",
          "  - {type: square, queries: 30}\n");

  static List<String> codes(Report r) {
    return r.diagnosticRecords().stream().map(Diagnostic::code).toList();
  }

  @Test
  void nanLogitsEverywhereAreFatalNotRandomness() {
    for (String checks : List.of("", "checks: {randomness: false}\n")) {
      Report r = run("nan.onnx", SUITE + checks);
      assertFalse(r.trusted(), checks + r.diagnostics());
      assertTrue(codes(r).contains("ARAT-D016"), r.diagnostics().toString());
      assertFalse(codes(r).contains("ARAT-D001"), r.diagnostics().toString());
    }
  }

  @Test
  void nanLogitsOnPerturbedInputsOnlyAreFatal() {
    // finite on clean 8-bit images (the probes pass), NaN once PGD's random start puts a background
    // pixel into (0, 1/510); the synthetic test set quantised to 8 bits, as image files are
    ImageDataset syn = Datasets.load("synthetic", null, Split.TEST);
    float[] px = syn.pixels().clone();
    for (int i = 0; i < px.length; i++) {
      px[i] = Math.round(px[i] * 255) / 255f;
    }
    ImageDataset test =
        new ImageDataset(
            "synthetic-8bit",
            syn.channels(),
            syn.height(),
            syn.width(),
            syn.numClasses(),
            syn.classNames(),
            px,
            syn.labels());
    Report r;
    try (OrtClassifier m = OrtClassifier.open(ByoModelsTest.fixture("nan-off-grid.onnx"), 1)) {
      Report.ModelInfo info =
          new Report.ModelInfo("nan-off-grid.onnx", null, Map.of(), List.of(-1L, 1L, 28L, 28L), 10);
      r =
          SuiteRunner.builder()
              .optThreads(1)
              .build()
              .evaluate(
                  m,
                  m,
                  info,
                  m::diagnostics,
                  ByoModelsTest.suite(SUITE),
                  test,
                  null,
                  null,
                  System.nanoTime());
    }
    assertFalse(r.trusted(), r.diagnostics().toString());
    Diagnostic d =
        r.diagnosticRecords().stream()
            .filter(x -> x.code().equals("ARAT-D016"))
            .findFirst()
            .orElseThrow();
    assertTrue(d.message().contains("scored during this run"), d.message());
  }

  /**
   * NaN seen during the attacks is recorded in the ledger: a run resumed (or repeated) from it
   * stays untrusted.
   */
  @Test
  void nanLogitsDuringTheAttacksSurviveAResumeFromTheLedger(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
    ImageDataset syn = Datasets.load("synthetic", null, Split.TEST);
    float[] px = syn.pixels().clone();
    for (int i = 0; i < px.length; i++) {
      px[i] = Math.round(px[i] * 255) / 255f;
    }
    ImageDataset test =
        new ImageDataset(
            "synthetic-8bit",
            syn.channels(),
            syn.height(),
            syn.width(),
            syn.numClasses(),
            syn.classNames(),
            px,
            syn.labels());
    Report.ModelInfo info =
        new Report.ModelInfo("nan-off-grid.onnx", null, Map.of(), List.of(-1L, 1L, 28L, 28L), 10);
    Report.Tool tool = new Report.Tool("arat", SuiteRunner.TOOL_VERSION, null, null, null);
    for (int run = 0; run < 2; run++) { // the second run replays every batch from the ledger
      Report r;
      try (OrtClassifier m = OrtClassifier.open(ByoModelsTest.fixture("nan-off-grid.onnx"), 1)) {
        r =
            SuiteRunner.builder()
                .optThreads(1)
                .optGallery(false)
                .build()
                .evaluate(
                    m,
                    m,
                    info,
                    m::diagnostics,
                    ByoModelsTest.suite(SUITE),
                    test,
                    null,
                    tool,
                    dir,
                    System.nanoTime());
      }
      assertFalse(r.trusted(), "run " + run + ": " + r.diagnostics());
      assertTrue(codes(r).contains("ARAT-D016"), "run " + run + ": " + r.diagnostics());
    }
    // and a merge of shards carries it
    for (String shard : List.of("1/2", "2/2")) {
      java.nio.file.Path out = dir.resolve("s" + shard.charAt(0));
      try (OrtClassifier m = OrtClassifier.open(ByoModelsTest.fixture("nan-off-grid.onnx"), 1)) {
        ReportFiles.writeJson(
            SuiteRunner.builder()
                .optThreads(1)
                .optGallery(false)
                .optShard(shard)
                .build()
                .evaluate(
                    m,
                    m,
                    info,
                    m::diagnostics,
                    ByoModelsTest.suite(SUITE),
                    test,
                    null,
                    tool,
                    out,
                    System.nanoTime()),
            out);
      }
    }
    Report merged = Merge.merge(List.of(dir.resolve("s1"), dir.resolve("s2")), null);
    assertFalse(merged.trusted(), merged.diagnostics().toString());
    assertEquals(
        1,
        codes(merged).stream().filter("ARAT-D016"::equals).count(),
        merged.diagnostics().toString());
    assertFalse(codes(merged).contains("ARAT-D014"), merged.diagnostics().toString());
  }

  @Test
  void undifferentiableOpsMakeWhiteBoxAttacksImpossibleWithOneCodeWhateverTheSuite() {
    Report ref = run("reference.onnx", SUITE);
    for (String model : List.of("round.onnx", "einsum.onnx", "loop.onnx")) {
      for (String suite : List.of(SUITE, SQUARE_SUITE)) {
        Report r = run(model, suite);
        String what = model + ": " + r.diagnostics();
        assertFalse(r.trusted(), what);
        assertFalse(r.passed(), what);
        List<Diagnostic> fatal = r.diagnosticRecords().stream().filter(Diagnostic::fatal).toList();
        assertEquals(List.of("ARAT-D017"), fatal.stream().map(Diagnostic::code).toList(), what);
        assertTrue(fatal.get(0).message().contains("allow_black_box_only: true"), what);
        assertTrue(fatal.get(0).message().contains("no attack was run"), what);
        // only the clean pass ran (round.onnx quantises the images first: not the same function)
        if (!model.equals("round.onnx")) {
          assertEquals(ref.cleanCorrect(), r.cleanCorrect(), what);
        }
        assertEquals(r.cleanCorrect(), r.robustCount(), what);
        assertTrue(r.attacks().stream().allMatch(a -> a.skipped() && a.attempted() == 0), what);
        // the report files say so: untrusted, with the code
        String md = ReportFiles.toMarkdown(r);
        assertTrue(md.contains("untrusted") && md.contains("ARAT-D017"), md);
      }
    }
  }

  @Test
  void aBlackBoxOnlySuiteMayCertifyAnUndifferentiableModelWhenItSaysSo() {
    Report r = run("round.onnx", SQUARE_SUITE + "allow_black_box_only: true\n");
    assertTrue(r.trusted(), r.diagnostics().toString());
    assertTrue(r.passed());
    Diagnostic d =
        r.diagnosticRecords().stream()
            .filter(x -> x.code().equals("ARAT-D017"))
            .findFirst()
            .orElseThrow();
    assertEquals(Diagnostic.Severity.WARNING, d.severity());
    assertTrue(ReportFiles.verdictLine(r).contains("BLACK-BOX ONLY"), ReportFiles.verdictLine(r));
    assertTrue(ReportFiles.toMarkdown(r).contains("black-box only"));
    assertTrue(r.cleanCorrect() > 0 && r.robustCount() <= r.cleanCorrect());
  }

  @Test
  void allowBlackBoxOnlyNeedsASuiteOfBlackBoxAttacks() {
    SpecException e =
        assertThrows(
            SpecException.class, () -> ByoModelsTest.suite(SUITE + "allow_black_box_only: true\n"));
    assertTrue(e.getMessage().contains("attacks[0] is fgsm"), e.getMessage());
  }

  @Test
  void aDifferentiableModelIsNotAffected() {
    Report r = run("reference.onnx", SUITE);
    assertTrue(r.trusted(), r.diagnostics().toString());
    assertFalse(
        codes(r).contains("ARAT-D016") || codes(r).contains("ARAT-D017"),
        r.diagnostics().toString());
  }
}
