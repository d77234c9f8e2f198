package dev.arat.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Everything one {@code arat bench train} run measured: the environment, the configuration, and
 * whichever comparisons ran; renders a text table and a JSON-ready map.
 */
public final class TrainBenchReport {
  private final TrainStepBench.Config config;
  private final Map<String, Object> environment;
  private TrainStepBench.StepResults steps;
  private TrainStepBench.AttackResults attacks;
  private TrainStepBench.TorchResults torch;
  private String torchSkipped;
  private double[] loadAfter = new double[0];

  /**
   * Starts a report.
   *
   * @param config the benchmark configuration
   * @param environment {@link BenchEnvironment#describe()} taken before measuring
   */
  public TrainBenchReport(TrainStepBench.Config config, Map<String, Object> environment) {
    this.config = config;
    this.environment = environment;
  }

  /** Adds comparison 1 (and the plain step). */
  public void steps(TrainStepBench.StepResults r) {
    this.steps = r;
  }

  /** Adds comparison 3. */
  public void attacks(TrainStepBench.AttackResults r) {
    this.attacks = r;
  }

  /** Adds comparison 2: the interleaved plain and PGD-AT steps, ours vs PyTorch eager. */
  public void torch(TrainStepBench.TorchResults r) {
    this.torch = r;
  }

  /** Records why the PyTorch comparison was skipped. */
  public void torchSkipped(String reason) {
    this.torchSkipped = reason;
  }

  /** Records the load average after measuring. */
  public void loadAfter(double[] load) {
    this.loadAfter = load.clone();
  }

  /** Every ratio measured, in order. */
  public List<TrainStepBench.Ratio> ratios() {
    List<TrainStepBench.Ratio> out = new ArrayList<>();
    if (steps != null) {
      out.add(steps.aratOverPgdAt());
    }
    if (torch != null) {
      out.addAll(torch.ratios());
    }
    if (attacks != null) {
      out.add(attacks.adapterOverDirect());
    }
    return out;
  }

  private static TrainStepBench.Measurement find(List<TrainStepBench.Measurement> ms, String n) {
    for (TrainStepBench.Measurement m : ms) {
      if (m.name().equals(n)) {
        return m;
      }
    }
    throw new IllegalStateException("no measurement " + n);
  }

  /** The report as a text table. */
  public String table() {
    StringBuilder sb = new StringBuilder();
    TrainStepBench.Config c = config;
    sb.append(
        String.format(
            Locale.ROOT,
            "model %s  input %dx%dx%d  batch %d  PGD-%d  " + "warmup %d  iterations %d%n",
            c.model(),
            c.channels(),
            c.height(),
            c.width(),
            c.batch(),
            c.pgdSteps(),
            c.warmup(),
            c.iterations()));
    sb.append(
        String.format(
            Locale.ROOT,
            "engine %s %s (DJL %s), threads %s/%s interop, " + "malloc %s, %s CPUs (%s)%n",
            environment.get("engine"),
            environment.get("libtorch_version"),
            environment.get("djl_version"),
            environment.get("threads"),
            environment.get("interop_threads"),
            environment.get("malloc"),
            environment.get("cpus"),
            environment.get("cpu_model")));
    sb.append("load average before ")
        .append(load((double[]) environment.get("load_average")))
        .append(", after ")
        .append(load(loadAfter))
        .append('\n');
    sb.append('\n');
    sb.append(
        String.format(
            Locale.ROOT,
            "%-27s %10s %9s %10s %19s %9s%n",
            "measurement",
            "mean s",
            "± std",
            "median s",
            "IQR s",
            "img/s"));
    List<TrainStepBench.Measurement> all = new ArrayList<>();
    if (steps != null) {
      all.addAll(steps.measurements());
    }
    if (torch != null) {
      all.addAll(torch.measurements());
    }
    if (attacks != null) {
      all.addAll(attacks.measurements());
      all.addAll(attacks.breakdown());
    }
    for (TrainStepBench.Measurement m : all) {
      Stats s = m.seconds();
      sb.append(
          String.format(
              Locale.ROOT,
              "%-27s %10.4f %9.4f %10.4f  [%7.4f, %7.4f] %9.1f%n",
              m.name(),
              s.mean(),
              s.std(),
              s.median(),
              s.q1(),
              s.q3(),
              m.imagesPerSecond()));
    }
    if (torch != null) {
      sb.append(
          String.format(
              Locale.ROOT,
              "torch: %s, %s threads, malloc %s%n",
              torch.torchInfo().get("torch_version"),
              torch.torchInfo().get("threads"),
              torch.torchInfo().get("malloc")));
    }
    if (torchSkipped != null) {
      sb.append("torch comparison skipped: ").append(torchSkipped).append('\n');
    }
    sb.append('\n');
    sb.append(
        String.format(
            Locale.ROOT,
            "%-29s %8s %19s %10s  %-28s %s%n",
            "ratio",
            "median",
            "paired IQR",
            "of medians",
            "target",
            "met"));
    for (TrainStepBench.Ratio r : ratios()) {
      String iqr =
          r.paired() == null
              ? "-"
              : String.format(Locale.ROOT, "[%.3f, %.3f]", r.paired().q1(), r.paired().q3());
      sb.append(
          String.format(
              Locale.ROOT,
              "%-29s %8.3f %19s %10.3f  %-28s %s%n",
              r.name(),
              r.value(),
              iqr,
              r.ofMedians(),
              r.target(),
              r.met() ? "yes" : "NO"));
    }
    return sb.toString();
  }

  private static String load(double[] l) {
    if (l == null || l.length < 3) {
      return "unknown";
    }
    return String.format(Locale.ROOT, "%.2f %.2f %.2f", l[0], l[1], l[2]);
  }

  /** The report as nested maps and lists (for JSON). */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("benchmark", "arat bench train");
    Map<String, Object> cfg = new LinkedHashMap<>();
    cfg.put("model", config.model());
    cfg.put("batch", config.batch());
    cfg.put("input", new int[] {config.channels(), config.height(), config.width()});
    cfg.put("classes", config.classes());
    cfg.put("pgd_steps", config.pgdSteps());
    cfg.put("epsilon", config.epsilon());
    cfg.put("warmup", config.warmup());
    cfg.put("iterations", config.iterations());
    cfg.put("seed", config.seed());
    m.put("config", cfg);
    m.put("environment", environment);
    m.put("load_average_after", loadAfter);
    Map<String, Object> ms = new LinkedHashMap<>();
    if (steps != null) {
      steps.measurements().forEach(x -> ms.put(x.name(), measurement(x)));
    }
    if (attacks != null) {
      attacks.measurements().forEach(x -> ms.put(x.name(), measurement(x)));
      attacks.breakdown().forEach(x -> ms.put(x.name(), measurement(x)));
    }
    if (torch != null) {
      torch.measurements().forEach(x -> ms.put(x.name(), measurement(x)));
    }
    m.put("measurements", ms);
    if (torch != null) {
      m.put("torch", new LinkedHashMap<>(torch.torchInfo()));
    } else if (torchSkipped != null) {
      m.put("torch", Map.of("skipped", torchSkipped));
    }
    Map<String, Object> rs = new LinkedHashMap<>();
    for (TrainStepBench.Ratio r : ratios()) {
      Map<String, Object> x = new LinkedHashMap<>();
      x.put("numerator", r.numerator());
      x.put("denominator", r.denominator());
      x.put("value", r.value());
      x.put("of_medians", r.ofMedians());
      if (r.paired() != null) {
        x.put("paired", stats(r.paired(), 0));
      }
      x.put("target", r.target());
      x.put("met", r.met());
      rs.put(r.name(), x);
    }
    m.put("ratios", rs);
    return m;
  }

  private static Map<String, Object> measurement(TrainStepBench.Measurement x) {
    Map<String, Object> m = stats(x.seconds(), x.batch());
    m.put("description", x.description());
    return m;
  }

  private static Map<String, Object> stats(Stats s, int batch) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("n", s.n());
    m.put("mean", s.mean());
    m.put("std", s.std());
    m.put("median", s.median());
    m.put("q1", s.q1());
    m.put("q3", s.q3());
    m.put("min", s.min());
    m.put("max", s.max());
    if (batch > 0) {
      m.put("images_per_second_at_median", batch / s.median());
    }
    return m;
  }
}
