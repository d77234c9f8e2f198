package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.evaluator.run.SuiteRunner;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Specs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code arat merge} on two shards of a small ONNX model. */
class MergeCommandTest {
  static Path linearModel(Path dir) {
    GraphBuilder g = new GraphBuilder("linear");
    String x = g.imageInput("input", 1, 28, 28);
    float[] w = new float[10 * 784];
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (0.05 * r.nextGaussian());
    }
    String flat = g.node(Op.FLATTEN, List.of(x), Map.of("axis", 1L));
    String z =
        g.node(
            Op.GEMM,
            List.of(
                flat,
                g.floatInitializer("w", w, 10, 784),
                g.floatInitializer("b", new float[10], 10)),
            Map.of("transB", 1L));
    g.output(z, "logits", Tensors.FLOAT, "N", 10);
    Path file = dir.resolve("model.onnx");
    OnnxModels.save(g.build(17), file);
    return file;
  }

  static CliRun merge(String... args) {
    String[] all = new String[args.length + 2];
    all[0] = "-q";
    all[1] = "merge";
    System.arraycopy(args, 0, all, 2, args.length);
    return CliRun.arat(all);
  }

  @Test
  void mergesShardsIntoTheSingleRunAndGates(@TempDir Path dir) throws Exception {
    Path model = linearModel(dir);
    EvaluationSuite suite =
        Specs.parse(
            String.join(
                "\n",
                "name: merge",
                "data: {dataset: synthetic}",
                "samples: 20",
                "seed: 1",
                "batch_size: 10",
                "threat_model: {norm: Linf, epsilon: 0.05}",
                "attacks: [{type: fgsm}]",
                "gates: {min_robust_accuracy: 0.0}",
                ""),
            EvaluationSuite.class,
            "m.yaml");
    Report single =
        SuiteRunner.builder().optThreads(1).build().run(model, suite, null, dir.resolve("single"));
    for (int k = 1; k <= 2; k++) {
      // as 'arat evaluate --shard' does, each shard leaves its reports (merge takes class names
      // from them)
      ReportFiles.writeAll(
          SuiteRunner.builder()
              .optThreads(1)
              .optShard(k + "/2")
              .build()
              .run(model, suite, null, dir.resolve("s" + k)),
          dir.resolve("s" + k));
    }
    CliRun r =
        merge(
            dir.resolve("s2").toString(),
            dir.resolve("s1").toString(),
            "--out",
            dir.resolve("m").toString());
    assertEquals(ExitCodes.OK, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("merged 2 shard(s)") && r.out().contains("PASSED"), r.out());
    Report merged =
        ReportFiles.readJson(Files.readString(dir.resolve("m").resolve(ReportFiles.JSON_FILE)));
    assertEquals(
        ReportFiles.toJson(single.withoutRunDetails()),
        ReportFiles.toJson(merged.withoutRunDetails()));
    assertTrue(Files.exists(dir.resolve("m").resolve(ReportFiles.JUNIT_FILE)));

    CliRun missing = merge(dir.resolve("s1").toString(), "--out", dir.resolve("m2").toString());
    assertEquals(ExitCodes.INPUT_ERROR, missing.code());
    assertTrue(missing.err().contains("missing [2/2]"), missing.err());
    CliRun none = merge(dir.resolve("nowhere").toString(), "--out", dir.resolve("m3").toString());
    assertEquals(ExitCodes.INPUT_ERROR, none.code());
    assertTrue(none.err().contains("no ledger at"), none.err());
  }
}
