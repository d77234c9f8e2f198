package dev.arat.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.specs.Specs;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code bench/torch_train_step.py} (the same steps in PyTorch eager) as a child process that
 * takes one step per request, so {@link TrainStepBench#versusTorch} can interleave its steps with
 * the Java ones.
 */
public final class TorchBaseline {

  /** How the child's allocator is chosen. */
  public enum Malloc {
    /** The same as this JVM (tcmalloc preloaded iff it is mapped here). */
    SAME,
    /** glibc malloc: {@code LD_PRELOAD} stripped of tcmalloc. */
    GLIBC,
    /** tcmalloc preloaded. */
    TCMALLOC
  }

  /** Debian's tcmalloc, the one the launcher preloads. */
  public static final String TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4";

  private TorchBaseline() {}

  /**
   * The PyTorch baseline could not be started or stopped answering: a problem of the interpreter,
   * the script or the machine named by the message, not of the benchmark.
   */
  public static final class BaselineFailure extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    BaselineFailure(String message) {
      super(message);
    }

    BaselineFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** Why the baseline cannot run (missing interpreter, torch or script), or null when it can. */
  public static String unavailable(Path python, Path script) {
    if (python == null || !Files.isExecutable(python)) {
      return "no Python interpreter at " + python;
    }
    if (script == null || !Files.isRegularFile(script)) {
      return "baseline script not found (" + script + "); pass --torch-script";
    }
    try {
      Process p =
          new ProcessBuilder(python.toString(), "-c", "import torch")
              .redirectErrorStream(true)
              .start();
      p.getInputStream().readAllBytes();
      if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
        return python + " cannot import torch (apt-get install python3-torch)";
      }
    } catch (IOException e) {
      return "cannot run " + python + ": " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
    return null;
  }

  /**
   * Starts the baseline as a worker ({@code torch_train_step.py --serve}) for {@code config} with
   * {@code threads} intra-op threads; it sets up and warms up, then runs one step per {@link
   * Worker#step} call, so its steps can be interleaved with the Java ones.
   *
   * @param progress where the child's progress lines go (null: discarded)
   * @throws BaselineFailure when the child fails to start or set up
   */
  public static Worker start(
      Path python,
      Path script,
      TrainStepBench.Config config,
      int threads,
      Malloc malloc,
      PrintStream progress) {
    if (!"resnet18".equals(config.model()) && !"small-cnn".equals(config.model())) {
      throw new IllegalArgumentException(
          "the PyTorch baseline implements resnet18 and small-cnn, " + "not " + config.model());
    }
    List<String> cmd =
        new ArrayList<>(
            Arrays.asList(
                python.toString(),
                script.toString(),
                "--model",
                config.model(),
                "--batch",
                "" + config.batch(),
                "--channels",
                "" + config.channels(),
                "--height",
                "" + config.height(),
                "--width",
                "" + config.width(),
                "--classes",
                "" + config.classes(),
                "--pgd-steps",
                "" + config.pgdSteps(),
                "--epsilon",
                "" + config.epsilon(),
                "--warmup",
                "" + Math.max(1, config.warmup()),
                "--threads",
                "" + threads,
                "--seed",
                "" + config.seed(),
                "--serve"));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    Map<String, String> env = pb.environment();
    String pre = env.getOrDefault("LD_PRELOAD", "");
    List<String> kept = new ArrayList<>();
    for (String s : pre.split("[: ]")) {
      if (!s.isBlank() && !s.contains("tcmalloc")) {
        kept.add(s);
      }
    }
    boolean tc =
        switch (malloc) {
          case SAME -> "tcmalloc".equals(BenchEnvironment.malloc());
          case GLIBC -> false;
          case TCMALLOC -> true;
        };
    if (tc) {
      if (!Files.exists(Path.of(TCMALLOC))) {
        throw new BaselineFailure("tcmalloc requested but " + TCMALLOC + " is missing");
      }
      kept.add(TCMALLOC);
    }
    if (kept.isEmpty()) {
      env.remove("LD_PRELOAD");
    } else {
      env.put("LD_PRELOAD", String.join(":", kept));
    }
    try {
      return new Worker(pb.start(), progress);
    } catch (IOException e) {
      throw new BaselineFailure("cannot start the PyTorch baseline: " + e.getMessage(), e);
    }
  }

  /** A running baseline child answering one step per request. Not thread-safe. */
  public static final class Worker implements AutoCloseable {
    private final Process process;
    private final BufferedReader out;
    private final Writer in;
    private final Map<String, Object> info;

    @SuppressWarnings("unchecked")
    Worker(Process process, PrintStream progress) {
      this.process = process;
      Thread err = new Thread(() -> copy(process.getErrorStream(), progress), "torch-stderr");
      err.setDaemon(true);
      err.start();
      this.out =
          new BufferedReader(
              new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
      try {
        JsonNode ready = read();
        if (!ready.path("ready").asBoolean(false)) {
          throw new BaselineFailure("the PyTorch baseline did not start: " + ready);
        }
        Map<String, Object> m = Specs.json().convertValue(ready, Map.class);
        m.remove("ready");
        this.info = Map.copyOf(m);
      } catch (RuntimeException e) {
        process.destroyForcibly();
        throw e;
      }
    }

    /** Torch version, threads, allocator, model and parameter count, as the child reported. */
    public Map<String, Object> info() {
      return info;
    }

    /**
     * Runs one step in the child.
     *
     * @param name {@code plain} or {@code pgd_at}
     * @return {seconds of the step, seconds of its attack (0 for plain)}
     */
    public double[] step(String name) {
      try {
        in.write(name + "\n");
        in.flush();
      } catch (IOException e) {
        throw new BaselineFailure("the PyTorch baseline went away: " + e.getMessage(), e);
      }
      JsonNode r = read();
      if (!name.equals(r.path("step").asText())) {
        throw new BaselineFailure("the PyTorch baseline answered " + r + " to " + name);
      }
      return new double[] {r.get("seconds").asDouble(), r.path("attack_seconds").asDouble()};
    }

    private JsonNode read() {
      try {
        String line = out.readLine();
        if (line == null) {
          int code = process.waitFor();
          throw new BaselineFailure("the PyTorch baseline exited (code " + code + ")");
        }
        return Specs.json().readTree(line);
      } catch (IOException e) {
        throw new BaselineFailure("cannot read the PyTorch baseline: " + e.getMessage(), e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the PyTorch baseline", e);
      }
    }

    /** Ends the child (end of input; killed if it has not exited after 30 s). */
    @Override
    public void close() {
      try {
        in.close();
      } catch (IOException e) {
        // already gone
      }
      try {
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  private static void copy(InputStream in, PrintStream to) {
    try {
      byte[] buf = new byte[4096];
      int r;
      while ((r = in.read(buf)) > 0) {
        if (to != null) {
          to.write(buf, 0, r);
          to.flush();
        }
      }
    } catch (IOException e) {
      // the child went away
    }
  }
}
