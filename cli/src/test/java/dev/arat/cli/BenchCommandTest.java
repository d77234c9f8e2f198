package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.specs.Specs;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code arat bench train} on a tiny configuration: it runs and reports; nothing is timed. */
class BenchCommandTest {
  @TempDir Path dir;

  record Result(int code, String out, String err) {}

  static Result arat(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Arat.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new Result(code, out.toString(), err.toString());
  }

  @Test
  void tinyRunPrintsTheTableAndWritesJson() throws Exception {
    Path json = dir.resolve("bench.json");
    Result r = arat("-q", "bench", "train", "--model", "small-cnn", "--input", "1x8x8",
        "--batch", "4", "--pgd-steps", "2", "--warmup", "0", "--iterations", "2",
        "--compare-torch", "--python", dir.resolve("no-python").toString(),
        "--json", json.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("arat_over_pgd_at"), r.out());
    assertTrue(r.out().contains("pgd_adapter_over_direct"), r.out());
    assertTrue(r.out().contains("torch comparison skipped"), r.out());
    JsonNode root = Specs.json().readTree(json.toFile());
    assertEquals("small-cnn", root.get("config").get("model").asText());
    for (String m : new String[] {"arat_step", "pgd_at_step", "plain_step", "pgd_adapter",
        "pgd_direct"}) {
      JsonNode s = root.get("measurements").get(m);
      assertTrue(s != null && s.get("median").asDouble() > 0, m);
    }
    assertTrue(root.get("ratios").get("arat_over_pgd_at").get("value").asDouble() > 0);
    assertTrue(root.get("torch").has("skipped"));
    assertTrue(root.get("environment").has("malloc"));
  }

  @Test
  void onlyAttackSkipsTheSteps() {
    Result r = arat("-q", "bench", "train", "--input", "1x8x8", "--batch", "4", "--pgd-steps",
        "1", "--warmup", "0", "--iterations", "1", "--only", "attack");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("pgd_adapter"), r.out());
    assertTrue(!r.out().contains("arat_step"), r.out());
  }

  @Test
  void badArgumentsAreInputErrors() {
    assertEquals(ExitCodes.INPUT_ERROR, arat("bench", "train", "--input", "3x32").code());
    assertEquals(ExitCodes.INPUT_ERROR, arat("bench", "train", "--model", "vgg").code());
    assertEquals(ExitCodes.INPUT_ERROR,
        arat("bench", "train", "--only", "attack", "--compare-torch").code());
    assertEquals(ExitCodes.INPUT_ERROR, arat("bench", "train", "--torch-malloc", "x").code());
  }
}
