package dev.arat.bench;

import ai.djl.engine.Engine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Facts about the machine and process that a timing depends on, for the report. */
public final class BenchEnvironment {
  private BenchEnvironment() {}

  /**
   * The allocator mapped into this process: {@code tcmalloc}, {@code jemalloc} or {@code glibc}
   * (from {@code /proc/self/maps}), {@code unknown} where that cannot be read.
   */
  public static String malloc() {
    try {
      String maps = Files.readString(Path.of("/proc/self/maps"));
      if (maps.contains("tcmalloc")) {
        return "tcmalloc";
      }
      if (maps.contains("jemalloc")) {
        return "jemalloc";
      }
      return "glibc";
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  /** The 1-, 5- and 15-minute load averages, or an empty array where unavailable. */
  public static double[] loadAverage() {
    try {
      String[] p = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return new double[] {
        Double.parseDouble(p[0]), Double.parseDouble(p[1]), Double.parseDouble(p[2])
      };
    } catch (IOException | RuntimeException e) {
      return new double[0];
    }
  }

  /** The CPU model name, or {@code unknown}. */
  public static String cpuModel() {
    try {
      List<String> lines = Files.readAllLines(Path.of("/proc/cpuinfo"));
      for (String l : lines) {
        if (l.startsWith("model name")) {
          return l.substring(l.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException | RuntimeException e) {
      // fall through
    }
    return "unknown";
  }

  /** Engine, library versions, threads, allocator, CPU and load. */
  public static Map<String, Object> describe() {
    Map<String, Object> m = new LinkedHashMap<>();
    Engine e = Engine.getInstance();
    m.put("engine", e.getEngineName());
    m.put("djl_version", Engine.getDjlVersion());
    m.put("libtorch_version", e.getVersion());
    m.put("threads", TrainStepBench.threads(0));
    m.put("interop_threads", TrainStepBench.interopThreads());
    m.put("malloc", malloc());
    String pre = System.getenv("LD_PRELOAD");
    m.put("ld_preload", pre == null ? "" : pre);
    m.put("java_version", System.getProperty("java.version"));
    m.put("cpus", java.lang.Runtime.getRuntime().availableProcessors());
    m.put("cpu_model", cpuModel());
    m.put("load_average", loadAverage());
    return m;
  }
}
