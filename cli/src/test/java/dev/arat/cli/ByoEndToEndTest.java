package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.specs.Specs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 10, models and data brought together: the fixed-batch, NHWC and no-normalisation exports of
 * one CNN (fixtures and their generator in {@code evaluator/src/test/resources/byo/}) each evaluate
 * end to end with {@code arat evaluate} on a uint8 NHWC {@code .npy} pair and on a folder of 28x28
 * grey PNGs (the same 32 Fashion-MNIST test images; fixtures and their generator in {@code
 * evaluator/src/test/resources/byo/data/}). Every export computes the reference's function, so each
 * run must give the reference's per-sample verdicts on the same data, exit 0, and name its data
 * source with the source's SHA-256 in report.json.
 */
class ByoEndToEndTest {
  static final int N = 32;
  static final Path BYO = Path.of("..", "evaluator", "src", "test", "resources", "byo");

  /**
   * The test sets and their generator ({@code generate.py}): Fashion-MNIST's first 32 test images.
   */
  static final Path DATA = BYO.resolve("data");

  /**
   * FGSM only: cheap and deterministic, so verdicts depend on the function computed alone; at this
   * radius the reference keeps 7 of its 19 clean-correct samples (both verdicts occur).
   */
  static final String SUITE =
      String.join(
          "\n",
          "name: byo-e2e",
          "samples: " + N,
          "seed: 1",
          "batch_size: 10",
          "threat_model: {norm: Linf, epsilon: 0.1}",
          "attacks: [{type: fgsm}]",
          "");

  static final String NORMALIZATION = "normalization: {mean: [0.2860], std: [0.3530]}\n";

  @TempDir Path dir;

  /**
   * Runs {@code arat evaluate} on {@code model} and returns report.json (after asserting exit 0).
   */
  JsonNode evaluate(String model, List<String> data, String tag) throws IOException {
    Path suite = dir.resolve(model + ".yaml");
    Files.writeString(suite, model.equals("no-norm.onnx") ? SUITE + NORMALIZATION : SUITE);
    Path out = dir.resolve(tag + "-" + model);
    List<String> args =
        new ArrayList<>(
            List.of(
                "evaluate",
                "--model",
                BYO.resolve(model).toString(),
                "--suite",
                suite.toString(),
                "--out",
                out.toString(),
                "--threads",
                "1"));
    args.addAll(data);
    CliRun r = CliRun.quiet(args.toArray(String[]::new));
    assertEquals(ExitCodes.OK, r.code(), model + " on " + tag + ": " + r.out() + r.err());
    return Specs.json().readTree(out.resolve("report.json").toFile());
  }

  @Test
  void everyExportEvaluatesOnAnNpyPairAndAPngFolderLikeTheReference() throws IOException {
    Path x = DATA.resolve("x.npy");
    Path y = DATA.resolve("y.npy");
    Path pngs = DATA.resolve("pngs");
    List<String> npy = List.of("--data", x.toString(), "--labels", y.toString());
    List<String> folder = List.of("--data", pngs.toString());

    for (List<String> data : List.of(npy, folder)) {
      String tag = data == npy ? "npy" : "png";
      JsonNode ref = evaluate("reference.onnx", data, tag);
      int clean = ref.path("clean_correct").asInt(-1);
      int robust = ref.path("robust_count").asInt(-1);
      // the comparison means something only if both verdicts occur
      assertTrue(
          robust > 0 && robust < clean, tag + ": reference clean " + clean + ", robust " + robust);
      JsonNode source = ref.path("dataset").path("source");
      assertEquals(
          tag.equals("npy") ? "npy" : "folder", source.path("kind").asText(), source.toString());
      assertEquals(64, source.path("sha256").asText().length(), source.toString());
      if (tag.equals("npy")) {
        assertEquals(
            dev.arat.data.TestSets.digest(List.of(x, y), null), source.path("sha256").asText());
      }
      for (String model : List.of("fixed-batch.onnx", "nhwc.onnx", "no-norm.onnx")) {
        JsonNode r = evaluate(model, data, tag);
        String what = model + " on " + tag;
        assertTrue(r.path("trusted").asBoolean(), what + ": " + r.path("diagnostics"));
        assertEquals(source, r.path("dataset").path("source"), what);
        assertEquals(N, r.path("per_sample").size(), what);
        for (int i = 0; i < N; i++) {
          JsonNode a = ref.path("per_sample").get(i);
          JsonNode b = r.path("per_sample").get(i);
          for (String field : List.of("index", "label", "clean_pred", "robust", "prediction")) {
            assertEquals(
                a.path(field), b.path(field), what + " sample " + a.path("index") + " " + field);
          }
        }
      }
    }
  }
}
