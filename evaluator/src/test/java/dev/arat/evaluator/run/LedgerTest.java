package dev.arat.evaluator.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.attack.Cascade;
import dev.arat.attack.CascadeResult;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Split;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.Fixtures;
import dev.arat.evaluator.ort.OrtEndToEndTest;
import dev.arat.evaluator.report.Report;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.LossHead;
import dev.arat.specs.Specs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ledger: resume after an abort, partial lines, foreign ledgers, fresh starts. */
public class LedgerTest {
  static final String SUITE =
      String.join(
          "\n",
          "name: resume",
          "data: {dataset: synthetic}",
          "samples: 32",
          "seed: 4",
          "batch_size: 8",
          "threat_model: {norm: Linf, epsilon: 0.12}",
          "attacks:",
          "  - type: fgsm",
          "  - {type: pgd, steps: 5}",
          "  - {type: pgd, steps: 5, loss: margin}",
          "");

  /** Aborts the run when attack {@code index} finishes. */
  static final class Abort implements Cascade.Listener {
    final int index;

    Abort(int index) {
      this.index = index;
    }

    @Override
    public void attackFinished(int i, CascadeResult.AttackStats stats) {
      if (i == index) {
        throw new IllegalStateException("killed after attack " + i);
      }
    }
  }

  static long lines(Path ledger, String type) throws Exception {
    return Files.readAllLines(ledger).stream()
        .filter(l -> l.contains("\"type\":\"" + type + "\""))
        .count();
  }

  @Test
  void resumeAfterAnAbortGivesTheUninterruptedReport(@TempDir Path dir) throws Exception {
    Path model =
        OrtEndToEndTest.save(
            Fixtures.onnx(Fixtures.syntheticNearestMean(), true, false), dir, "model.onnx");
    EvaluationSuite suite = Specs.parse(SUITE, EvaluationSuite.class, "resume.yaml");
    Report whole =
        SuiteRunner.builder().optThreads(1).build().run(model, suite, null, dir.resolve("whole"));

    Path out = dir.resolve("resumed");
    SuiteRunner killed = SuiteRunner.builder().optThreads(1).optListener(new Abort(0)).build();
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> killed.run(model, suite, null, out));
    assertTrue(e.getMessage().contains("killed"), e.getMessage());
    Path ledger = out.resolve(Ledger.FILE);
    long attackLines = lines(ledger, "attack");
    assertTrue(attackLines > 0 && lines(ledger, "clean") > 0 && lines(ledger, "probe") == 1);
    // a kill in the middle of a write leaves a partial line: it is cut off on resume
    Files.writeString(
        ledger,
        "{\"type\":\"attack\",\"epsilon\":0.1",
        StandardCharsets.UTF_8,
        StandardOpenOption.APPEND);

    Report resumed = SuiteRunner.builder().optThreads(1).build().run(model, suite, null, out);
    assertEquals(ShardMergeTest.comparable(whole), ShardMergeTest.comparable(resumed));
    // attack 0 was replayed, not recomputed: its lines were not written again
    long fgsmLines =
        Files.readAllLines(ledger).stream()
            .filter(l -> l.contains("\"type\":\"attack\"") && l.contains("\"attack\":0,"))
            .count();
    assertEquals(attackLines, fgsmLines);

    // a complete ledger: a rerun computes nothing and writes nothing
    long size = Files.size(ledger);
    Report third = SuiteRunner.builder().optThreads(1).build().run(model, suite, null, out);
    assertEquals(ShardMergeTest.comparable(whole), ShardMergeTest.comparable(third));
    assertEquals(size, Files.size(ledger));
  }

  public static Report runJava(
      EvaluationSuite suite, GradientClassifier m, Path out, boolean fresh) {
    ImageDataset test = Datasets.load("synthetic", null, Split.TEST);
    Report.ModelInfo info =
        new Report.ModelInfo(
            "java:nearest-mean", "0".repeat(64), Map.of(), List.of(-1L, 1L, 28L, 28L), 10);
    Report.Tool tool = new Report.Tool("arat", "test", null, "17", null);
    return SuiteRunner.builder()
        .optFresh(fresh)
        .build()
        .evaluate(m, m, info, List::of, suite, test, null, tool, out, System.nanoTime());
  }

  @Test
  void aLedgerOfAnotherEvaluationIsRejectedUnlessFresh(@TempDir Path dir) throws Exception {
    EvaluationSuite suite = Specs.parse(SUITE, EvaluationSuite.class, "resume.yaml");
    GradientClassifier m = Fixtures.java(Fixtures.syntheticNearestMean());
    Report first = runJava(suite, m, dir, false);
    // name, batch size and gates may change between a run and its resume
    Report renamed =
        runJava(
            Specs.parse(
                SUITE
                        .replace("name: resume", "name: other")
                        .replace("batch_size: 8", "batch_size: 3")
                    + "gates: {min_robust_accuracy: 0.9}\n",
                EvaluationSuite.class,
                "s.yaml"),
            m,
            dir,
            false);
    assertEquals(first.perSample(), renamed.perSample());
    assertEquals(1, renamed.gates().size());

    EvaluationSuite reseeded =
        Specs.parse(SUITE.replace("seed: 4", "seed: 5"), EvaluationSuite.class, "s.yaml");
    EvaluationException e =
        assertThrows(EvaluationException.class, () -> runJava(reseeded, m, dir, false));
    assertEquals(EvaluationException.Kind.INPUT, e.kind());
    assertTrue(
        e.getMessage().contains("belongs to another evaluation")
            && e.getMessage().contains("suite settings")
            && e.getMessage().contains("--fresh"),
        e.getMessage());
    Report fresh = runJava(reseeded, m, dir, true);
    assertEquals(32, fresh.samples());
    assertTrue(Files.readString(dir.resolve(Ledger.FILE)).contains("\"seed\":5"));
  }

  @Test
  void aCorruptLineIsNamed(@TempDir Path dir) throws Exception {
    EvaluationSuite suite = Specs.parse(SUITE, EvaluationSuite.class, "resume.yaml");
    GradientClassifier m = Fixtures.java(Fixtures.syntheticNearestMean());
    runJava(suite, m, dir, false);
    Files.writeString(dir.resolve(Ledger.FILE), "not json\n", StandardOpenOption.APPEND);
    EvaluationException e =
        assertThrows(EvaluationException.class, () -> runJava(suite, m, dir, false));
    assertTrue(e.getMessage().contains("corrupt ledger line"), e.getMessage());
  }

  /** A model whose gradient is identically zero (a masked-gradient toy). */
  public static GradientClassifier zeroGradient(GradientClassifier m) {
    return new GradientClassifier() {
      @Override
      public int numClasses() {
        return m.numClasses();
      }

      @Override
      public float[] logits(ImageBatch x) {
        return m.logits(x);
      }

      @Override
      public LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head) {
        LossGradient g = m.lossGradient(x, labels, targets, head);
        return new LossGradient(g.logits(), g.losses(), new float[g.gradient().length]);
      }
    };
  }
}
