package dev.arat.evaluator.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.Fixtures;
import dev.arat.evaluator.Shard;
import dev.arat.evaluator.ort.OrtEndToEndTest;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Specs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Shards through ONNX Runtime: shard 1/2 + shard 2/2 + merge equals a single run. */
class ShardMergeTest {
  static final String SUITE =
      String.join(
          "\n",
          "name: shards",
          "data: {dataset: synthetic}",
          "samples: 40",
          "seed: 11",
          "batch_size: 8",
          "threat_model: {norm: Linf, epsilon: 0.12}",
          "epsilon_sweep: [0.06, 0.12, 0.2]",
          "checks: {full_range_pgd: true, full_range_steps: 5, probe_samples: 12}",
          "attacks:",
          "  - type: fgsm",
          "  - {type: pgd, steps: 6}",
          "gates: {min_clean_accuracy: 0.5, min_robust_accuracy: 0.3, min_class_robust_accuracy: 0.0,"
              + " min_robust_accuracy_at: [{epsilon: 0.2, min: 0.01}]}",
          "");

  static String comparable(Report r) {
    return ReportFiles.toJson(r.withoutRunDetails());
  }

  @Test
  void twoShardsMergeIntoTheSingleRun(@TempDir Path dir) throws Exception {
    Path model =
        OrtEndToEndTest.save(
            Fixtures.onnx(Fixtures.syntheticNearestMean(), true, false), dir, "model.onnx");
    EvaluationSuite suite = Specs.parse(SUITE, EvaluationSuite.class, "shards.yaml");
    Report single =
        SuiteRunner.builder().optThreads(1).build().run(model, suite, null, dir.resolve("single"));
    Report s1 =
        SuiteRunner.builder()
            .optThreads(1)
            .optShard("1/2")
            .build()
            .run(model, suite, null, dir.resolve("s1"));
    // another batch size must not change results (it is not part of the ledger fingerprint; merge
    // takes shard 1 settings)
    Report s2 =
        SuiteRunner.builder()
            .optThreads(1)
            .optShard("2/2")
            .build()
            .run(model, suite.withBatchSize(5), null, dir.resolve("s2"));
    // as 'arat evaluate --shard' does: each shard leaves its report (merge takes class names from
    // it)
    ReportFiles.writeAll(s1, dir.resolve("s1"));
    ReportFiles.writeAll(s2, dir.resolve("s2"));
    assertEquals(20, s1.samples());
    assertEquals(20, s2.samples());
    assertEquals(new Shard(1, 2), s1.shard());
    assertTrue(s1.gates().isEmpty());
    assertNull(single.shard());
    assertTrue(single.trusted(), single.diagnostics().toString());
    assertTrue(single.robustAccuracy() < single.cleanAccuracy(), ReportFiles.toMarkdown(single));
    assertEquals(3, single.sweep().size());
    assertTrue(Files.size(dir.resolve("single").resolve(SuiteRunner.GALLERY_FILE)) > 0);

    Report merged = Merge.merge(List.of(dir.resolve("s2"), dir.resolve("s1")), null);
    assertEquals(comparable(single), comparable(merged));
    assertEquals(single.perSample(), merged.perSample());
    assertNotEquals(0, merged.gates().size());

    Report again =
        Merge.mergeAndWrite(
            List.of(dir.resolve("s1"), dir.resolve("s2")), null, dir.resolve("merged"));
    assertEquals(comparable(single), comparable(again));
    assertTrue(Files.exists(dir.resolve("merged").resolve(ReportFiles.JUNIT_FILE)));

    EvaluationException missing =
        assertThrows(
            EvaluationException.class, () -> Merge.merge(List.of(dir.resolve("s1")), null));
    assertTrue(missing.getMessage().contains("missing [2/2]"), missing.getMessage());
    EvaluationException twice =
        assertThrows(
            EvaluationException.class,
            () -> Merge.merge(List.of(dir.resolve("s1"), dir.resolve("s1")), null));
    assertTrue(twice.getMessage().contains("given twice"), twice.getMessage());
    EvaluationException foreign =
        assertThrows(
            EvaluationException.class,
            () -> Merge.merge(List.of(dir.resolve("s1"), dir.resolve("single")), null));
    assertTrue(foreign.getMessage().contains("different"), foreign.getMessage());
  }
}
