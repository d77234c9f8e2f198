package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ci/arat-gate.sh: a clean usage text, and DATASET reaches arat as --dataset. */
class CiGateScriptTest {
  static final Path SCRIPT = Path.of("..", "ci", "arat-gate.sh").toAbsolutePath().normalize();

  @TempDir static Path dir;
  static Path launcher;

  record Run(int code, String out) {}

  @BeforeAll
  static void launcher() throws Exception {
    assumeTrue(new File("/bin/bash").canExecute(), "needs bash");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    launcher = dir.resolve("arat");
    Files.writeString(
        launcher,
        "#!/bin/bash\nexec '"
            + java
            + "' -cp '"
            + System.getProperty("java.class.path")
            + "' dev.arat.cli.Arat \"$@\"\n");
    assertTrue(launcher.toFile().setExecutable(true));
  }

  static Run gate(Map<String, String> env, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("/bin/bash", SCRIPT.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().put("ARAT", launcher.toString());
    pb.environment().put("DJL_OFFLINE", "true");
    pb.environment().remove("GITHUB_STEP_SUMMARY");
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    return new Run(p.exitValue(), out);
  }

  @Test
  void helpIsTheCommentBlockOnly() throws Exception {
    Run r = gate(Map.of(), "--help");
    assertEquals(0, r.code(), r.out());
    assertTrue(
        r.out().contains("Usage:  ci/arat-gate.sh MODEL.onnx") && r.out().contains("DATASET"),
        r.out());
    assertFalse(r.out().contains("set -uo") || r.out().contains("if ["), r.out());
    Run bad = gate(Map.of());
    assertEquals(2, bad.code(), bad.out());
    assertTrue(bad.out().contains("expected MODEL.onnx SUITE [OUT]"), bad.out());
  }

  @Test
  void datasetReachesArat() throws Exception {
    // a 1x28x28 -> 10 linear classifier for the synthetic dataset, and a suite naming no dataset
    GraphBuilder g = new GraphBuilder("linear");
    String x = g.imageInput("input", 1, 28, 28);
    float[] w = new float[10 * 784];
    Random rnd = new Random(1);
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) rnd.nextGaussian() * 0.01f;
    }
    String z =
        g.node(
            Op.GEMM,
            List.of(g.node(Op.FLATTEN, x), g.floatInitializer("w", w, 10, 784)),
            Map.of("transB", 1));
    g.output(z, "logits", Tensors.FLOAT, "N", 10);
    Path model = dir.resolve("m.onnx");
    OnnxModels.save(g.build(17), model);
    Path suite = dir.resolve("suite.yaml");
    Files.writeString(
        suite,
        "name: gate\nsamples: 8\nthreat_model: {norm: Linf, epsilon: 0.05}\n"
            + "attacks: [{type: fgsm}]\n");

    Run without = gate(Map.of(), model.toString(), suite.toString(), "out-a");
    assertEquals(2, without.code(), without.out());
    assertTrue(without.out().contains("--dataset"), without.out());

    Run with = gate(Map.of("DATASET", "synthetic"), model.toString(), suite.toString(), "out-b");
    assertNotEquals(2, with.code(), with.out());
    assertTrue(Files.exists(dir.resolve("out-b").resolve("report.json")), with.out());
  }
}
