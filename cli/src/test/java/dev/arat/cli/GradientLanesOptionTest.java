package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.specs.Specs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --gradient-lanes} changes how a gradient call is scheduled, never a result: the BYO
 * reference CNN under APGD-CE and APGD-T gives the same per-sample records with 1, 2 and 4 lanes; a
 * lane count that does not divide the gradient call's parts is a usage error.
 */
class GradientLanesOptionTest {
  static final String SUITE =
      String.join(
          "\n",
          "name: lanes",
          "samples: 32",
          "seed: 3",
          "batch_size: 13",
          "threat_model: {norm: Linf, epsilon: 0.05}",
          "attacks:",
          "  - {type: apgd, loss: ce, steps: 10}",
          "  - {type: apgd-t, steps: 5, targets: 2}",
          "");

  @TempDir Path dir;

  /** {@code arat evaluate} of the BYO reference on its npy pair with {@code lanes} lanes. */
  CliRun run(String lanes, Path out) throws IOException {
    Path suite = dir.resolve("suite.yaml");
    Files.writeString(suite, SUITE);
    return CliRun.quiet(
        "evaluate",
        "--model",
        ByoEndToEndTest.BYO.resolve("reference.onnx").toString(),
        "--suite",
        suite.toString(),
        "--data",
        ByoEndToEndTest.DATA.resolve("x.npy").toString(),
        "--labels",
        ByoEndToEndTest.DATA.resolve("y.npy").toString(),
        "--out",
        out.toString(),
        "--threads",
        "2",
        "--gradient-lanes",
        lanes);
  }

  JsonNode evaluate(String lanes) throws IOException {
    Path out = dir.resolve("lanes-" + lanes);
    CliRun r = run(lanes, out);
    assertEquals(ExitCodes.OK, r.code(), lanes + " lanes: " + r.out() + r.err());
    return Specs.json().readTree(out.resolve("report.json").toFile());
  }

  @Test
  void lanesNeverChangeAResult() throws IOException {
    JsonNode one = evaluate("1");
    int clean = one.path("clean_correct").asInt(-1);
    int robust = one.path("robust_count").asInt(-1);
    assertTrue(robust > 0 && robust < clean, "clean " + clean + ", robust " + robust);
    for (String lanes : new String[] {"2", "4"}) {
      JsonNode other = evaluate(lanes);
      assertEquals(one.path("per_sample"), other.path("per_sample"), lanes + " lanes");
      assertEquals(one.path("attacks").size(), other.path("attacks").size());
      for (int a = 0; a < one.path("attacks").size(); a++) {
        assertEquals(
            one.path("attacks").get(a).path("model_calls").path("gradient_images"),
            other.path("attacks").get(a).path("model_calls").path("gradient_images"),
            lanes + " lanes, attack " + a);
      }
    }
  }

  @Test
  void aLaneCountThatDoesNotDivideThePartsIsAUsageError() throws IOException {
    CliRun r = run("3", dir.resolve("bad"));
    assertEquals(ExitCodes.INPUT_ERROR, r.code(), r.out() + r.err());
    assertTrue(
        r.err().contains("gradient lanes: must be 1, 2 or 4 (or 0: automatic), was 3"), r.err());
    assertTrue(!r.err().contains("Exception"), r.err());
  }
}
