package dev.arat.trainer.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.specs.Specs;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@code bench/torch_train_step.py} (the same steps in PyTorch eager) in a child process and
 * reads its samples.
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

  /**
   * The child's results.
   *
   * @param plainStep seconds per plain step
   * @param pgdAtStep seconds per PGD-AT step
   * @param pgdAtAttack seconds of the attack inside the PGD-AT step
   * @param info torch version, threads, allocator, ... as reported by the script
   */
  public record Result(Stats plainStep, Stats pgdAtStep, Stats pgdAtAttack,
      Map<String, Object> info) {}

  private TorchBaseline() {}

  /** Why the baseline cannot run (missing interpreter, torch or script), or null when it can. */
  public static String unavailable(Path python, Path script) {
    if (python == null || !Files.isExecutable(python)) {
      return "no Python interpreter at " + python;
    }
    if (script == null || !Files.isRegularFile(script)) {
      return "baseline script not found (" + script + "); pass --torch-script";
    }
    try {
      Process p = new ProcessBuilder(python.toString(), "-c", "import torch")
          .redirectErrorStream(true).start();
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
   * Runs the baseline for {@code config} with {@code threads} intra-op threads.
   *
   * @param progress where the child's progress lines go (null: discarded)
   */
  @SuppressWarnings("unchecked")
  public static Result run(Path python, Path script, TrainStepBench.Config config, int threads,
      Malloc malloc, PrintStream progress) {
    if (!"resnet18".equals(config.model()) && !"small-cnn".equals(config.model())) {
      throw new IllegalArgumentException("the PyTorch baseline implements resnet18 and small-cnn, "
          + "not " + config.model());
    }
    List<String> cmd = new ArrayList<>(Arrays.asList(python.toString(), script.toString(),
        "--model", config.model(), "--batch", "" + config.batch(),
        "--channels", "" + config.channels(), "--height", "" + config.height(),
        "--width", "" + config.width(), "--classes", "" + config.classes(),
        "--pgd-steps", "" + config.pgdSteps(), "--epsilon", "" + config.epsilon(),
        "--warmup", "" + Math.max(1, config.warmup()), "--iterations", "" + config.iterations(),
        "--threads", "" + threads, "--seed", "" + config.seed()));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    Map<String, String> env = pb.environment();
    String pre = env.getOrDefault("LD_PRELOAD", "");
    List<String> kept = new ArrayList<>();
    for (String s : pre.split("[: ]")) {
      if (!s.isBlank() && !s.contains("tcmalloc")) {
        kept.add(s);
      }
    }
    boolean tc = switch (malloc) {
      case SAME -> "tcmalloc".equals(BenchEnvironment.malloc());
      case GLIBC -> false;
      case TCMALLOC -> true;
    };
    if (tc) {
      if (!Files.exists(Path.of(TCMALLOC))) {
        throw new IllegalStateException("tcmalloc requested but " + TCMALLOC + " is missing");
      }
      kept.add(TCMALLOC);
    }
    if (kept.isEmpty()) {
      env.remove("LD_PRELOAD");
    } else {
      env.put("LD_PRELOAD", String.join(":", kept));
    }
    try {
      Process p = pb.start();
      Thread err = new Thread(() -> copy(p.getErrorStream(), progress));
      err.setDaemon(true);
      err.start();
      byte[] out = p.getInputStream().readAllBytes();
      int code = p.waitFor();
      err.join(5000);
      String text = new String(out, StandardCharsets.UTF_8).trim();
      if (code != 0) {
        throw new IllegalStateException("the PyTorch baseline failed (exit " + code + "): "
            + text);
      }
      String last = text.substring(text.lastIndexOf('\n') + 1);
      JsonNode root = Specs.json().readTree(last);
      Map<String, Object> info = Specs.json().convertValue(root, Map.class);
      info.remove("samples");
      info.remove("pgd_at_attack");
      return new Result(stats(root.get("samples").get("plain_step")),
          stats(root.get("samples").get("pgd_at_step")), stats(root.get("pgd_at_attack")), info);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running the PyTorch baseline", e);
    }
  }

  private static Stats stats(JsonNode arr) {
    double[] v = new double[arr.size()];
    for (int i = 0; i < v.length; i++) {
      v[i] = arr.get(i).asDouble();
    }
    return Stats.of(v);
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
