package dev.arat.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A run's {@code conflict.jsonl}: one line per gradient-conflict measurement ({@code {epoch, step,
 * cosine, conflict_ratio, norm_cls, norm_inv, purifying_*, contaminating_*, parameters, layers}},
 * see {@link Objective#conflict}), and the per-epoch means that go into {@code metrics.jsonl}.
 */
final class ConflictLog {
  /** The keys averaged per epoch, in the order of {@link EpochMetrics.Conflict}'s components. */
  private static final String[] MEAN_KEYS = {
    "cosine",
    "conflict_ratio",
    "norm_cls",
    "norm_inv",
    "purifying_cosine",
    "purifying_conflict_ratio",
    "contaminating_cosine",
    "contaminating_conflict_ratio"
  };

  private final Path file;

  /** The log of run folder {@code runDir}. */
  ConflictLog(Path runDir) {
    this.file = runDir.resolve(Trainer.CONFLICT_FILE);
  }

  /** Appends the measurement {@code c} taken before the update of global step {@code step}. */
  void append(int epoch, long step, Objective.Conflict c) throws IOException {
    Map<String, Object> l = new LinkedHashMap<>();
    l.put("epoch", epoch);
    l.put("step", step);
    l.put("cosine", num(c.overall().cosine()));
    l.put("conflict_ratio", num(c.overall().conflictRatio()));
    l.put("norm_cls", num(c.overall().normCls()));
    l.put("norm_inv", num(c.overall().normInv()));
    l.put("purifying_cosine", num(c.purifying().cosine()));
    l.put("purifying_conflict_ratio", num(c.purifying().conflictRatio()));
    l.put("purifying_norm", num(c.purifying().normInv()));
    l.put("contaminating_cosine", num(c.contaminating().cosine()));
    l.put("contaminating_conflict_ratio", num(c.contaminating().conflictRatio()));
    l.put("contaminating_norm", num(c.contaminating().normInv()));
    l.put("parameters", c.parameters());
    Map<String, Object> layers = new LinkedHashMap<>();
    c.layers()
        .forEach(
            (k, v) -> {
              Map<String, Object> e = new LinkedHashMap<>();
              e.put("cosine", num(v.cosine()));
              e.put("conflict_ratio", num(v.conflictRatio()));
              e.put("norm_cls", num(v.normCls()));
              e.put("norm_inv", num(v.normInv()));
              layers.put(k, e);
            });
    l.put("layers", layers);
    MetricsFiles.append(file, l);
  }

  /**
   * The means of epoch {@code epoch}'s lines (NaN for a key without values).
   *
   * @param seconds the time the epoch spent measuring, in seconds
   */
  EpochMetrics.Conflict means(int epoch, double seconds) throws IOException {
    double[] sum = new double[MEAN_KEYS.length];
    int[] cnt = new int[MEAN_KEYS.length];
    int lines = 0;
    for (JsonNode node : MetricsFiles.read(file)) {
      if (node.path("epoch").asInt() != epoch) {
        continue;
      }
      lines++;
      for (int i = 0; i < MEAN_KEYS.length; i++) {
        JsonNode v = node.get(MEAN_KEYS[i]);
        if (v != null && v.isNumber()) {
          sum[i] += v.asDouble();
          cnt[i]++;
        }
      }
    }
    double[] mean = new double[MEAN_KEYS.length];
    for (int i = 0; i < MEAN_KEYS.length; i++) {
      mean[i] = cnt[i] > 0 ? sum[i] / cnt[i] : Double.NaN;
    }
    return new EpochMetrics.Conflict(
        lines, mean[0], mean[1], mean[2], mean[3], mean[4], mean[5], mean[6], mean[7], seconds);
  }

  /** On resume: keeps only the measurements taken before global step {@code step}. */
  void keepBefore(long step) throws IOException {
    MetricsFiles.keepLines(file, node -> node.has("step") && node.get("step").asLong() < step);
  }

  /** {@code v} for JSON: the number, or null (left out of the line) when it is NaN or infinite. */
  private static Object num(double v) {
    return Double.isFinite(v) ? (Object) v : null;
  }
}
