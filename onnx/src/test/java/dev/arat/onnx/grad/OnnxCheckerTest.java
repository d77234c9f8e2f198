package dev.arat.onnx.grad;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.LossHead;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the official ONNX checker ({@code onnx.checker.check_model(m, full_check=True)}, which also
 * runs ONNX shape inference) on forward and gradient models; skipped when {@code python3 -c
 * "import onnx"} does not work on this machine.
 */
class OnnxCheckerTest {
  @TempDir
  Path dir;

  private static boolean pythonOnnx() {
    try {
      Process p = new ProcessBuilder("/usr/bin/python3", "-c", "import onnx")
          .redirectErrorStream(true).start();
      return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  void forwardAndGradientModelsPassTheOnnxChecker() throws Exception {
    Assumptions.assumeTrue(pythonOnnx(), "python3-onnx is not installed");
    List<String> files = new ArrayList<>();
    List<ModelProto> forwards = List.of(Models.cnn(1), Models.norm(2, false), Models.norm(3, true));
    for (int i = 0; i < forwards.size(); i++) {
      Path f = dir.resolve("fwd" + i + ".onnx");
      OnnxModels.save(forwards.get(i), f);
      files.add(f.toString());
      for (LossHead h : LossHead.values()) {
        Path gpath = dir.resolve("grad" + i + "_" + h.id() + ".onnx");
        OnnxModels.save(new GradientGraphBuilder().build(forwards.get(i), h).model(), gpath);
        files.add(gpath.toString());
      }
    }
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", "-c",
        "import sys, onnx\n"
            + "for f in sys.argv[1:]:\n"
            + "    onnx.checker.check_model(onnx.load(f), full_check=True)\n"
            + "print('ok', len(sys.argv) - 1)\n"));
    cmd.addAll(files);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    boolean done = p.waitFor(120, TimeUnit.SECONDS);
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!done) {
      p.destroyForcibly();
    }
    assertEquals(0, done ? p.exitValue() : -1, out);
    assertEquals("ok " + files.size(), out.strip(), out);
  }
}
