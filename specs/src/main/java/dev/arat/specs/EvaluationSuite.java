package dev.arat.specs;

import java.util.List;

/**
 * An evaluation suite, as read from YAML: which data, how many samples, the threat model, the
 * attack cascade and the gates. Unknown keys are rejected; {@link Specs#readSuite} loads it.
 *
 * @param name a label for reports
 * @param data the dataset the samples come from
 * @param samples how many test images (the first {@code samples} of a seeded permutation)
 * @param seed seed of the sample choice and of every attack's random draws
 * @param batchSize images per model call (bounds memory, never changes results)
 * @param threatModel the budget every attack must respect
 * @param attacks the cascade, run in order on the samples still robust
 * @param gates pass/fail thresholds that decide the exit code
 */
public record EvaluationSuite(
    String name,
    Data data,
    Integer samples,
    Long seed,
    Integer batchSize,
    ThreatModel threatModel,
    List<AttackSpec> attacks,
    Gates gates) {

  /** Applies defaults and validates. */
  public EvaluationSuite {
    name = name == null ? "suite" : name;
    data = data == null ? new Data(null, null) : data;
    samples = samples == null ? 1000 : samples;
    if (samples <= 0) {
      throw new IllegalArgumentException("samples: must be > 0, was " + samples);
    }
    seed = seed == null ? 0L : seed;
    batchSize = batchSize == null ? 250 : batchSize;
    if (batchSize <= 0) {
      throw new IllegalArgumentException("batch_size: must be > 0, was " + batchSize);
    }
    if (threatModel == null) {
      throw new IllegalArgumentException("threat_model: required (norm and epsilon)");
    }
    if (attacks == null || attacks.isEmpty()) {
      throw new IllegalArgumentException("attacks: at least one attack is required");
    }
    attacks = List.copyOf(attacks);
    gates = gates == null ? new Gates(null, null) : gates;
  }

  /** Returns a copy with another sample count. */
  public EvaluationSuite withSamples(int n) {
    return new EvaluationSuite(name, data, n, seed, batchSize, threatModel, attacks, gates);
  }

  /** Returns a copy whose robust-accuracy gate is {@code minRobust}. */
  public EvaluationSuite withMinRobustAccuracy(double minRobust) {
    return new EvaluationSuite(
        name, data, samples, seed, batchSize, threatModel, attacks,
        new Gates(gates.minCleanAccuracy(), minRobust));
  }

  /** Returns a copy reading data from {@code path}. */
  public EvaluationSuite withDataPath(String path) {
    return new EvaluationSuite(
        name, new Data(data.dataset(), path), samples, seed, batchSize, threatModel, attacks, gates);
  }

  /**
   * The dataset of the suite.
   *
   * @param dataset a dataset name ({@code fashion-mnist}, {@code mnist}, {@code synthetic})
   * @param path a folder holding its files; null means the default location
   */
  public record Data(String dataset, String path) {
    /** Applies the default dataset ({@code fashion-mnist}). */
    public Data {
      dataset = dataset == null ? "fashion-mnist" : dataset;
    }
  }

  /**
   * Thresholds; an absent gate is not checked.
   *
   * @param minCleanAccuracy lowest acceptable clean accuracy in [0,1]
   * @param minRobustAccuracy lowest acceptable robust accuracy in [0,1] after the whole cascade
   */
  public record Gates(Double minCleanAccuracy, Double minRobustAccuracy) {
    /** Validates the ranges. */
    public Gates {
      unit(minCleanAccuracy, "min_clean_accuracy");
      unit(minRobustAccuracy, "min_robust_accuracy");
    }

    private static void unit(Double v, String field) {
      if (v != null && !(v >= 0 && v <= 1)) {
        throw new IllegalArgumentException(field + ": must be in [0,1], was " + v);
      }
    }
  }
}
