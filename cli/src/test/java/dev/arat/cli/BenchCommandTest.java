package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.bench.TorchBaseline;
import dev.arat.specs.Specs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code arat bench train} on a tiny configuration: it runs and reports; nothing is timed. */
class BenchCommandTest {
  @TempDir Path dir;

  @Test
  void tinyRunPrintsTheTableAndWritesJson() throws Exception {
    Path json = dir.resolve("bench.json");
    CliRun r =
        CliRun.arat(
            "-q",
            "bench",
            "train",
            "--model",
            "small-cnn",
            "--input",
            "1x8x8",
            "--batch",
            "4",
            "--pgd-steps",
            "2",
            "--warmup",
            "0",
            "--iterations",
            "2",
            "--compare-torch",
            "--python",
            dir.resolve("no-python").toString(),
            "--json",
            json.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("arat_over_pgd_at"), r.out());
    assertTrue(r.out().contains("pgd_adapter_over_direct"), r.out());
    assertTrue(r.out().contains("torch comparison skipped"), r.out());
    JsonNode root = Specs.json().readTree(json.toFile());
    assertEquals("small-cnn", root.get("config").get("model").asText());
    for (String m :
        new String[] {"arat_step", "pgd_at_step", "plain_step", "pgd_adapter", "pgd_direct"}) {
      JsonNode s = root.get("measurements").get(m);
      assertTrue(s != null && s.get("median").asDouble() > 0, m);
    }
    assertTrue(root.get("ratios").get("arat_over_pgd_at").get("value").asDouble() > 0);
    assertTrue(root.get("torch").has("skipped"));
    assertTrue(root.get("environment").has("malloc"));
  }

  @Test
  void evaluateShowsEachAttacksCallsAndTheGradientToForwardRatio() throws Exception {
    Path model = MergeCommandTest.linearModel(dir);
    Path suite = dir.resolve("suite.yaml");
    Files.writeString(
        suite,
        String.join(
            "\n",
            "name: bench",
            "data: {dataset: synthetic}",
            "samples: 12",
            "seed: 1",
            "batch_size: 5",
            "threat_model: {norm: Linf, epsilon: 0.01}",
            "attacks: [{type: pgd, steps: 3}, {type: fab-t, steps: 2, targets: 2}]",
            ""));
    Path json = dir.resolve("bench.json");
    CliRun r =
        CliRun.arat(
            "-q",
            "bench",
            "evaluate",
            "--model",
            model.toString(),
            "--suite",
            suite.toString(),
            "--threads",
            "1",
            "--rounds",
            "2",
            "--out",
            dir.resolve("eval").toString(),
            "--json",
            json.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("pgd-3-ce") && r.out().contains("fab-t-2-t2"), r.out());
    assertTrue(r.out().contains("gradient logit-diff") && r.out().contains("x forward"), r.out());
    JsonNode root = Specs.json().readTree(json.toFile());
    JsonNode pgd = root.get("attacks").get(0);
    int attempted = pgd.get("attempted").asInt();
    assertTrue(attempted > 0, root.toString());
    // PGD-3 takes one gradient per step and sample until a sample breaks
    long images = pgd.get("model_calls").get("gradient_images").asLong();
    assertTrue(images >= attempted && images <= 3L * attempted, root.toString());
    assertEquals(5, root.get("calls").get("batch").asInt());
    assertTrue(root.get("calls").get("gradient").get("ce").get("ratio_to_forward").asDouble() > 0);
    assertTrue(Files.exists(dir.resolve("eval").resolve("report.json")));
  }

  @Test
  void evaluateTakesTheTestSetOptionsOfEvaluate() throws Exception {
    Path model = MergeCommandTest.linearModel(dir);
    Path x = dir.resolve("x.npy");
    Files.write(x, new byte[] {1});
    CliRun r =
        CliRun.arat("bench", "evaluate", "--model", model.toString(), "--data", x.toString());
    assertEquals(ExitCodes.INPUT_ERROR, r.code(), r.err());
    assertTrue(r.err().contains("give its labels with --labels Y.npy"), r.err());
  }

  @Test
  void onlyAttackSkipsTheSteps() {
    CliRun r =
        CliRun.arat(
            "-q",
            "bench",
            "train",
            "--input",
            "1x8x8",
            "--batch",
            "4",
            "--pgd-steps",
            "1",
            "--warmup",
            "0",
            "--iterations",
            "1",
            "--only",
            "attack");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("pgd_adapter"), r.out());
    assertTrue(!r.out().contains("arat_step"), r.out());
  }

  @Test
  void badArgumentsAreInputErrors() {
    assertEquals(ExitCodes.INPUT_ERROR, CliRun.arat("bench", "train", "--input", "3x32").code());
    assertEquals(ExitCodes.INPUT_ERROR, CliRun.arat("bench", "train", "--model", "vgg").code());
    assertEquals(
        ExitCodes.INPUT_ERROR,
        CliRun.arat("bench", "train", "--only", "attack", "--compare-torch").code());
    assertEquals(
        ExitCodes.INPUT_ERROR, CliRun.arat("bench", "train", "--torch-malloc", "x").code());
  }

  /** Debian's interpreter when it can import torch (not installed in CI: those tests skip). */
  static Path torchPython() {
    Path py = Path.of("/usr/bin/python3");
    Assumptions.assumeTrue(
        TorchBaseline.unavailable(py, BenchCommand.Train.findScript()) == null,
        "python3-torch is not installed");
    return py;
  }

  @Test
  void comparisonWithPyTorchIsInterleavedAndPaired() throws Exception {
    Path py = torchPython();
    Path json = dir.resolve("torch.json");
    CliRun r =
        CliRun.arat(
            "-q",
            "bench",
            "train",
            "--model",
            "small-cnn",
            "--input",
            "1x8x8",
            "--batch",
            "4",
            "--pgd-steps",
            "2",
            "--warmup",
            "0",
            "--iterations",
            "3",
            "--threads",
            "1",
            "--only",
            "steps",
            "--compare-torch",
            "--python",
            py.toString(),
            "--json",
            json.toString());
    assertEquals(0, r.code(), r.err());
    JsonNode root = Specs.json().readTree(json.toFile());
    for (String m :
        new String[] {
          "plain_step_vs_torch",
          "pgd_at_step_vs_torch",
          "torch_plain_step",
          "torch_pgd_at_step",
          "torch_pgd_at_attack"
        }) {
      JsonNode s = root.get("measurements").get(m);
      assertTrue(s != null && s.get("n").asInt() == 3 && s.get("median").asDouble() > 0, m);
    }
    for (String ratio :
        new String[] {"plain_step_ours_over_torch", "pgd_at_step_ours_over_torch"}) {
      JsonNode x = root.get("ratios").get(ratio);
      assertEquals(3, x.get("paired").get("n").asInt(), ratio);
      assertTrue(x.get("value").asDouble() > 0, ratio);
    }
    // conv 800 + bn 64 + conv 51,200 + bn 128 + fc1 64·2·2·256+256 + fc2 2,570
    assertEquals(
        120554, root.get("torch").get("parameters").asInt(), "the child built the same small-cnn");
    assertEquals(1, root.get("torch").get("threads").asInt());
  }

  @Test
  void aBaselineThatDiesIsAClearError() throws Exception {
    Path py = torchPython();
    Path script = dir.resolve("dies.py");
    Files.writeString(script, "import sys\nsys.exit(3)\n");
    CliRun r =
        CliRun.arat(
            "bench",
            "train",
            "--input",
            "1x8x8",
            "--batch",
            "4",
            "--pgd-steps",
            "1",
            "--warmup",
            "0",
            "--iterations",
            "1",
            "--only",
            "steps",
            "--compare-torch",
            "--python",
            py.toString(),
            "--torch-script",
            script.toString());
    assertEquals(ExitCodes.INPUT_ERROR, r.code(), r.err());
    assertTrue(!r.err().contains("bug in arat"), r.err());
    assertTrue(r.err().contains("PyTorch baseline exited (code 3)"), r.err());
    assertTrue(!r.err().contains("\tat "), "no stack trace: " + r.err());
  }
}
