package dev.arat.testsupport;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * What tests that call Python need: Debian's interpreter and a check that it can import the modules
 * a test uses. The product never needs Python; CI has {@code python3-onnx} but no torch, so a test
 * needing a missing module is skipped (a JUnit assumption), never failed.
 */
public final class Python {
  /** Debian's interpreter, the one whose {@code python3-onnx} / {@code python3-torch} we use. */
  public static final Path PYTHON3 = Path.of("/usr/bin/python3");

  private Python() {}

  /**
   * Skips the calling test unless {@link #PYTHON3} exists and imports every module.
   *
   * @param modules Python module names, e.g. {@code onnx}, {@code torch}, {@code numpy}
   * @return the interpreter
   */
  public static Path assumeModules(String... modules) {
    String missing = missing(modules);
    Assumptions.assumeTrue(missing == null, missing);
    return PYTHON3;
  }

  /**
   * Why {@link #PYTHON3} cannot import {@code modules} (a one-line message naming the Debian
   * packages), or null when it can.
   */
  public static String missing(String... modules) {
    String wanted = String.join(", ", modules);
    String packages = String.join(" ", List.of(modules).stream().map(m -> "python3-" + m).toList());
    if (!Files.isExecutable(PYTHON3)) {
      return "no " + PYTHON3 + " (apt-get install python3 " + packages + ")";
    }
    try {
      Process p =
          new ProcessBuilder(PYTHON3.toString(), "-c", "import " + wanted)
              .redirectErrorStream(true)
              .start();
      p.getInputStream().readAllBytes();
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return PYTHON3 + " -c 'import " + wanted + "' did not finish";
      }
      return p.exitValue() == 0
          ? null
          : PYTHON3 + " cannot import " + wanted + " (apt-get install " + packages + ")";
    } catch (IOException e) {
      return "cannot run " + PYTHON3 + ": " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  /**
   * Runs {@code python3 -c script args...} with a time limit and returns its exit code and its
   * combined standard output and error.
   */
  public static Result run(String script, List<String> args, long timeoutSeconds)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(PYTHON3.toString(), "-c", script));
    cmd.addAll(args);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return new Result(-1, out + "\n(timed out after " + timeoutSeconds + " s)");
    }
    return new Result(p.exitValue(), out);
  }

  /** A finished Python run: exit code ({@code -1} on timeout) and combined output. */
  public record Result(int exitCode, String output) {}
}
