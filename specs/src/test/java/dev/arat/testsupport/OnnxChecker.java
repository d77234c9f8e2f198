package dev.arat.testsupport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;

/**
 * The official ONNX checker, {@code onnx.checker.check_model(model, full_check=True)} (which also
 * runs ONNX shape inference), through Debian's {@code python3-onnx}; tests calling it are skipped
 * where that is not installed.
 */
public final class OnnxChecker {
  private static final String SCRIPT =
      "import sys, onnx\n"
          + "for f in sys.argv[1:]:\n"
          + "    onnx.checker.check_model(onnx.load(f), full_check=True)\n"
          + "print('ok', len(sys.argv) - 1)\n";

  private OnnxChecker() {}

  /**
   * Skips the calling test unless {@code python3 -c "import onnx"} works, then fails it unless the
   * checker accepts every file (the message is the checker's output).
   *
   * @param files ONNX model files
   */
  public static void assertAccepts(List<Path> files) throws Exception {
    Python.assumeModules("onnx");
    Python.Result r = Python.run(SCRIPT, files.stream().map(Path::toString).toList(), 300);
    assertEquals(0, r.exitCode(), r.output());
    assertEquals("ok " + files.size(), r.output().strip(), r.output());
  }
}
