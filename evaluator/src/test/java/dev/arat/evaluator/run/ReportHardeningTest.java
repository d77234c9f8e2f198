package dev.arat.evaluator.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.Fixtures;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.evaluator.report.Plots;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.SpecException;
import dev.arat.specs.Specs;
import dev.arat.specs.ThreatModel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Verdict files last, their permissions, meaningful radii, sample-count notes and epsilon
 * fractions.
 */
class ReportHardeningTest {
  static final String SUITE =
      String.join(
          "\n",
          "name: hardening",
          "data: {dataset: synthetic}",
          "samples: 20",
          "seed: 2",
          "batch_size: 10",
          "threat_model: {norm: Linf, epsilon: 0.1}",
          "attacks: [{type: fgsm}]",
          "gates: {min_clean_accuracy: 0.1}",
          "");

  static Report run(String suite, Path out) {
    return LedgerTest.runJava(
        Specs.parse(suite, EvaluationSuite.class, "hardening.yaml"),
        Fixtures.java(Fixtures.syntheticNearestMean()),
        out,
        false);
  }

  @Test
  void plotsThatFailLeaveNoVerdictBehind(@TempDir Path dir) throws Exception {
    Report r = run(SUITE, null);
    // a non-empty folder where the plot goes: writing the plot fails
    Files.createDirectories(dir.resolve(Plots.EPSILON_FILE).resolve("x"));
    assertThrows(EvaluationException.class, () -> ReportFiles.writeAll(r, dir));
    for (String f :
        new String[] {ReportFiles.JSON_FILE, ReportFiles.MARKDOWN_FILE, ReportFiles.JUNIT_FILE}) {
      assertFalse(Files.exists(dir.resolve(f)), f + " was written before the plots");
    }
  }

  @Test
  void reportFilesHaveTheLedgersPermissions(@TempDir Path dir) throws Exception {
    assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"));
    Report r = run(SUITE, dir);
    var ledger = Files.getPosixFilePermissions(dir.resolve("ledger.jsonl"));
    for (Path f : ReportFiles.writeAll(r, dir)) {
      assertEquals(ledger, Files.getPosixFilePermissions(f), f.toString());
    }
  }

  @Test
  void anL2RadiusBeyondTheImageIsRefusedBeforeAnyWork() {
    String msg =
        assertThrows(
                SpecException.class,
                () ->
                    run(
                        SUITE.replace("norm: Linf, epsilon: 0.1", "norm: L2, epsilon: 1e308"),
                        null))
            .getMessage();
    assertTrue(
        msg.contains("threat_model.epsilon")
            && msg.contains("1x28x28")
            && msg.contains("at most 28"),
        msg);
    msg =
        assertThrows(
                SpecException.class,
                () ->
                    run(
                        SUITE.replace("norm: Linf, epsilon: 0.1", "norm: L2, epsilon: 1")
                            + "epsilon_sweep: [2, 29]\n",
                        null))
            .getMessage();
    assertTrue(msg.contains("epsilon_sweep") && msg.contains("29"), msg);
  }

  @Test
  void moreSamplesThanTheTestSetHasIsNoted() {
    Report r = run(SUITE.replace("samples: 20", "samples: 100000"), null);
    assertEquals(r.dataset().testSize(), r.samples());
    String md = ReportFiles.toMarkdown(r);
    assertTrue(
        md.contains("asks for 100000 samples") && md.contains("only " + r.samples() + " images"),
        md);
    assertEquals(null, ReportFiles.samplesNote(run(SUITE, null)));
  }

  @Test
  void epsilonIsWrittenAsAFractionWhenItIsOne() {
    assertEquals("8/255 (0.03137)", ThreatModel.formatEpsilon(8.0 / 255));
    assertEquals("8/255 (0.03137)", ThreatModel.formatEpsilon(0.03137254901960784));
    assertEquals("0.1", ThreatModel.formatEpsilon(0.1));
    assertEquals("0.2", ThreatModel.formatEpsilon(0.2)); // 51/255 too, but short as a decimal
    assertEquals("0.0314", ThreatModel.formatEpsilon(0.0314));
    assertEquals("0.5", ThreatModel.formatEpsilon(0.5));
    Report r =
        run(
            SUITE.replace("epsilon: 0.1", "epsilon: 0.03137254901960784")
                + "epsilon_sweep: [0.01568627450980392]\n",
            null);
    String md = ReportFiles.toMarkdown(r);
    assertTrue(md.contains("Linf eps=8/255 (0.03137)") && md.contains("| 4/255 (0.01569) |"), md);
    // only the settings list (provenance) keeps the exact value
    assertFalse(
        md.substring(0, md.indexOf("Settings and provenance")).contains("0.03137254901960784"), md);
  }

  @Test
  void classNamesReachTheReportThePlotAndTheGallery() {
    Report r = run(SUITE, null);
    Report.ClassEntry c = r.perClass().get(3);
    assertEquals(3, c.label());
    assertEquals("class3", c.name()); // the synthetic dataset's names
    assertEquals("3 (class3)", c.display());
    assertTrue(ReportFiles.toMarkdown(r).contains("| 3 (class3) |"));
    assertEquals(r.perClass(), ReportFiles.readJson(ReportFiles.toJson(r)).perClass());
    assertEquals("Pullover", Gallery.caption(List.of("T-shirt/top", "Trouser", "Pullover"), 2));
    assertEquals("T-shirt/t.", Gallery.caption(List.of("T-shirt/top/long"), 0));
    assertEquals("7", Gallery.caption(List.of("0", "1", "2", "3", "4", "5", "6", "7"), 7));
    assertEquals("7", Gallery.caption(null, 7));
  }

  @Test
  void reportMdHasNoRelativeLinks() throws Exception {
    // the report with one diagnostic added
    var tree =
        (com.fasterxml.jackson.databind.node.ObjectNode)
            Specs.json().readTree(ReportFiles.toJson(run(SUITE, null)));
    Diagnostic d = Diagnostic.Code.ZERO_GRADIENT.of("3 samples have a zero gradient");
    tree.putArray("diagnostic_records").add(Specs.json().valueToTree(d));
    Report r = ReportFiles.readJson(tree.toString());
    String md = ReportFiles.toMarkdown(r);
    assertTrue(md.contains("ARAT-D"), md);
    assertFalse(md.matches("(?s).*\\]\\((?!https?://)[^)]*\\).*"), md);
    assertEquals(
        "[doc](https://example.org/arat/docs/diagnostics.md#arat-d003)",
        ReportFiles.docReference("docs/diagnostics.md#arat-d003", "https://example.org/arat"));
    assertEquals(
        "see `docs/diagnostics.md#arat-d003` in arat's documentation",
        ReportFiles.docReference("docs/diagnostics.md#arat-d003", null));
  }
}
