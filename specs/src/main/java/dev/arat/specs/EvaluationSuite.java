package dev.arat.specs;

import java.util.List;
import java.util.Locale;

/**
 * An evaluation suite, as read from YAML: which data, how many samples, the threat model, the
 * attack cascade, an optional epsilon sweep, sanity checks and the gates. Unknown keys are
 * rejected; {@link Specs#readSuite} loads it.
 *
 * @param name a label for reports
 * @param data the dataset the samples come from
 * @param samples how many test images (the first {@code samples} of a seeded permutation)
 * @param seed seed of the sample choice and of every attack's random draws
 * @param batchSize images per model call (bounds memory, never changes results)
 * @param threatModel the budget every attack must respect (the headline result)
 * @param attacks the cascade, run in order on the samples still robust
 * @param epsilonSweep further radii (same norm) at which the whole cascade is run again and
 *     reported, strictly increasing; null or empty means no sweep. A radius equal to the threat
 *     model's is not run twice.
 * @param checks sanity checks (docs/diagnostics.md)
 * @param gates pass/fail thresholds that decide the exit code
 * @param normalization per-channel mean/std applied to the pixels before the model, for a model
 *     exported without its normalisation (attacks still work in [0,1] pixel space); null means the
 *     model takes [0,1] pixels
 * @param allowBlackBoxOnly let a suite of black-box attacks only (square, transfer) certify a model
 *     that white-box attacks cannot differentiate; the verdict is labelled black-box only (default
 *     false; needs every attack to be black-box)
 * @param saveAdversarial write the adversarial examples of the broken samples ({@code
 *     adversarial.npy} and its companions) into the output folder (default true)
 */
public record EvaluationSuite(
    String name,
    Data data,
    Integer samples,
    Long seed,
    Integer batchSize,
    ThreatModel threatModel,
    List<AttackSpec> attacks,
    List<Double> epsilonSweep,
    Checks checks,
    Gates gates,
    Normalization normalization,
    Boolean allowBlackBoxOnly,
    Boolean saveAdversarial) {

  /** Applies defaults and validates. */
  public EvaluationSuite {
    name = name == null ? "suite" : name;
    data = data == null ? new Data(null, null) : data;
    saveAdversarial = saveAdversarial == null || saveAdversarial;
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
    for (int i = 0; i < attacks.size(); i++) {
      if (attacks.get(i) == null) {
        throw new IllegalArgumentException(
            "attacks[" + i + "]: expected a mapping with a 'type' key");
      }
    }
    attacks = List.copyOf(attacks);
    if (epsilonSweep != null && epsilonSweep.isEmpty()) {
      epsilonSweep = null;
    }
    if (epsilonSweep != null) {
      for (int i = 0; i < epsilonSweep.size(); i++) {
        Double e = epsilonSweep.get(i);
        if (e == null || !(e > 0) || Double.isInfinite(e)) {
          throw new IllegalArgumentException("epsilon_sweep[" + i + "]: must be > 0, was " + e);
        }
        if (threatModel.norm() == Norm.LINF && e > 1) {
          throw new IllegalArgumentException(
              "epsilon_sweep[" + i + "]: must be at most 1 for Linf, was " + e);
        }
        if (i > 0 && !(e > epsilonSweep.get(i - 1))) {
          throw new IllegalArgumentException(
              String.format(
                  Locale.ROOT,
                  "epsilon_sweep[%d]: must be strictly increasing, %s follows %s",
                  i,
                  e,
                  epsilonSweep.get(i - 1)));
        }
      }
      epsilonSweep = List.copyOf(epsilonSweep);
    }
    checks = checks == null ? new Checks(null, null, null, null, null, null) : checks;
    gates = gates == null ? new Gates(null, null) : gates;
    allowBlackBoxOnly = allowBlackBoxOnly != null && allowBlackBoxOnly;
    if (allowBlackBoxOnly) {
      for (int i = 0; i < attacks.size(); i++) {
        if (!attacks.get(i).blackBox()) {
          throw new IllegalArgumentException(
              "allow_black_box_only: true needs a suite of black-box attacks only"
                  + " (square, transfer), but attacks["
                  + i
                  + "] is "
                  + attacks.get(i).label());
        }
      }
    }
    if (gates.minRobustAccuracyAt() != null) {
      for (int i = 0; i < gates.minRobustAccuracyAt().size(); i++) {
        double e = gates.minRobustAccuracyAt().get(i).epsilon();
        boolean known =
            e == threatModel.epsilon() || (epsilonSweep != null && epsilonSweep.contains(e));
        if (!known) {
          throw new IllegalArgumentException(
              String.format(
                  Locale.ROOT,
                  "gates.min_robust_accuracy_at[%d].epsilon: %s is neither threat_model.epsilon nor in epsilon_sweep",
                  i,
                  e));
        }
      }
    }
  }

  /**
   * The suite without normalisation, black-box-only permission and the {@code save_adversarial}
   * switch (on): the layout before they existed.
   */
  public EvaluationSuite(
      String name,
      Data data,
      Integer samples,
      Long seed,
      Integer batchSize,
      ThreatModel threatModel,
      List<AttackSpec> attacks,
      List<Double> epsilonSweep,
      Checks checks,
      Gates gates) {
    this(
        name,
        data,
        samples,
        seed,
        batchSize,
        threatModel,
        attacks,
        epsilonSweep,
        checks,
        gates,
        null,
        null,
        null);
  }

  /**
   * Whether every attack is black-box (square, transfer): the verdict involves no model gradient.
   */
  public boolean blackBoxOnly() {
    return attacks.stream().allMatch(AttackSpec::blackBox);
  }

  /**
   * Per-channel normalisation applied to [0,1] pixels before the model: {@code (x - mean) / std}.
   *
   * @param mean one value for every channel, or one per channel
   * @param std the same count as {@code mean}, each {@code > 0}
   */
  public record Normalization(List<Double> mean, List<Double> std) {
    /** Validates. */
    public Normalization {
      if (mean == null || mean.isEmpty() || std == null || std.isEmpty()) {
        throw new IllegalArgumentException(
            "normalization: needs mean and std (lists of 1 or C values)");
      }
      if (mean.size() != std.size()) {
        throw new IllegalArgumentException(
            "normalization: mean has " + mean.size() + " values but std has " + std.size());
      }
      for (int i = 0; i < mean.size(); i++) {
        if (mean.get(i) == null || !Double.isFinite(mean.get(i))) {
          throw new IllegalArgumentException(
              "normalization.mean[" + i + "]: must be a finite number, was " + mean.get(i));
        }
        if (std.get(i) == null || !(std.get(i) > 0) || Double.isInfinite(std.get(i))) {
          throw new IllegalArgumentException(
              "normalization.std[" + i + "]: must be > 0, was " + std.get(i));
        }
      }
      mean = List.copyOf(mean);
      std = List.copyOf(std);
    }
  }

  /** The suite without a sweep or checks settings (the layout before sweeps existed). */
  public EvaluationSuite(
      String name,
      Data data,
      Integer samples,
      Long seed,
      Integer batchSize,
      ThreatModel threatModel,
      List<AttackSpec> attacks,
      Gates gates) {
    this(name, data, samples, seed, batchSize, threatModel, attacks, null, null, gates);
  }

  /**
   * Every radius evaluated: the threat model's first, then the sweep's radii that differ from it,
   * in sweep order.
   */
  public List<Double> epsilons() {
    java.util.ArrayList<Double> out = new java.util.ArrayList<>();
    out.add(threatModel.epsilon());
    if (epsilonSweep != null) {
      for (Double e : epsilonSweep) {
        if (!out.contains(e)) {
          out.add(e);
        }
      }
    }
    return List.copyOf(out);
  }

  /** Returns a copy with another sample count. */
  public EvaluationSuite withSamples(int n) {
    return new EvaluationSuite(
        name,
        data,
        n,
        seed,
        batchSize,
        threatModel,
        attacks,
        epsilonSweep,
        checks,
        gates,
        normalization,
        allowBlackBoxOnly,
        saveAdversarial);
  }

  /** Returns a copy with another batch size. */
  public EvaluationSuite withBatchSize(int n) {
    return new EvaluationSuite(
        name,
        data,
        samples,
        seed,
        n,
        threatModel,
        attacks,
        epsilonSweep,
        checks,
        gates,
        normalization,
        allowBlackBoxOnly,
        saveAdversarial);
  }

  /** Returns a copy with other gates. */
  public EvaluationSuite withGates(Gates g) {
    return new EvaluationSuite(
        name,
        data,
        samples,
        seed,
        batchSize,
        threatModel,
        attacks,
        epsilonSweep,
        checks,
        g,
        normalization,
        allowBlackBoxOnly,
        saveAdversarial);
  }

  /** This suite with {@code a} as its attacks. */
  public EvaluationSuite withAttacks(List<AttackSpec> a) {
    return new EvaluationSuite(
        name,
        data,
        samples,
        seed,
        batchSize,
        threatModel,
        a,
        epsilonSweep,
        checks,
        gates,
        normalization,
        allowBlackBoxOnly,
        saveAdversarial);
  }

  /** Returns a copy whose robust-accuracy gate is {@code minRobust}. */
  public EvaluationSuite withMinRobustAccuracy(double minRobust) {
    return withGates(
        new Gates(
            gates.minCleanAccuracy(),
            minRobust,
            gates.minRobustAccuracyAt(),
            gates.minClassRobustAccuracy(),
            gates.maxRobustDrop(),
            gates.useLowerBound(),
            gates.interval(),
            gates.maxRobustDropVsParent(),
            gates.minTop1Agreement()));
  }

  /** Returns a copy reading data from {@code path}. */
  public EvaluationSuite withDataPath(String path) {
    return withData(data.withPath(path));
  }

  /** Returns a copy reading {@code d}. */
  public EvaluationSuite withData(Data d) {
    return new EvaluationSuite(
        name,
        d,
        samples,
        seed,
        batchSize,
        threatModel,
        attacks,
        epsilonSweep,
        checks,
        gates,
        normalization,
        allowBlackBoxOnly,
        saveAdversarial);
  }

  /** Returns a copy that does ({@code true}) or does not save the adversarial examples. */
  public EvaluationSuite withSaveAdversarial(boolean save) {
    return new EvaluationSuite(
        name,
        data,
        samples,
        seed,
        batchSize,
        threatModel,
        attacks,
        epsilonSweep,
        checks,
        gates,
        normalization,
        allowBlackBoxOnly,
        save);
  }

  /**
   * The test set of the suite: either a named dataset ({@code dataset}, its files in {@code path})
   * or the user's own files ({@code format} and its keys). Relative paths are resolved against the
   * working directory. See docs/evaluation.md ("Test sets").
   *
   * @param dataset a dataset name ({@code fashion-mnist}, {@code mnist}, {@code cifar10}, {@code
   *     cifar100}, {@code synthetic}, {@code folder:<path>}); null (with no {@code format}) means
   *     the dataset named in the model's metadata ({@code arat.dataset})
   * @param path for a named dataset the folder (or CIFAR tarball) holding its files, null for the
   *     default location; for {@code format: npz} the archive; for {@code format: folder} the image
   *     folder
   * @param format the user's own files: {@code npy} (arrays {@code x} and {@code y} in two files),
   *     {@code npz} (one archive at {@code path}), {@code folder} (class sub-folders of images at
   *     {@code path}), {@code idx} (IDX image and label files {@code x} and {@code y}); null for a
   *     named dataset
   * @param x {@code npy}/{@code idx}: the images file; {@code npz}: the images array's name
   *     (default {@code x})
   * @param y {@code npy}/{@code idx}: the labels file; {@code npz}: the labels array's name
   *     (default {@code y})
   * @param layout {@code npy}/{@code npz}: {@code nchw} or {@code nhwc} for 4-D images; null means
   *     inferred from where the channel axis (1 or 3) is, an error when ambiguous
   * @param imageSize {@code folder}: resize every image to {@code image_size x image_size}; null
   *     keeps the stored size (all images must then have the same size)
   * @param channels {@code folder}: 1 (grey) or 3 (RGB); null means 1 when every image is grey,
   *     else 3
   * @param resize {@code folder} with {@code image_size}: {@code center_crop} (default: scale the
   *     shorter side, cut the centred square) or {@code resize} (scale both sides)
   */
  public record Data(
      String dataset,
      String path,
      String format,
      String x,
      String y,
      String layout,
      Integer imageSize,
      Integer channels,
      String resize) {
    /** The {@code format} values. */
    public static final List<String> FORMATS = List.of("npy", "npz", "folder", "idx");

    /**
     * Validates. A null {@code dataset} without a {@code format} means "the dataset named in the
     * model's metadata", resolved by the evaluator with {@link EvaluationSuite#withDataset}.
     */
    public Data {
      if (dataset != null && dataset.isBlank()) {
        throw new IllegalArgumentException("dataset: must not be empty");
      }
      if (format != null) {
        format = format.toLowerCase(Locale.ROOT);
        if (!FORMATS.contains(format)) {
          throw new IllegalArgumentException(
              "format: must be one of " + FORMATS + ", was '" + format + "'");
        }
        if (dataset != null) {
          throw new IllegalArgumentException(
              "give either dataset (a named dataset) or format (your own files), " + "not both");
        }
      }
      boolean pair = "npy".equals(format) || "idx".equals(format);
      if (pair && (x == null || y == null)) {
        throw new IllegalArgumentException(
            (x == null ? "x" : "y")
                + ": required with format "
                + format
                + " (the "
                + (x == null ? "images" : "labels")
                + " file)");
      }
      if (pair && path != null) {
        throw new IllegalArgumentException(
            "path: not used with format " + format + "; give the files as x and y");
      }
      if (("npz".equals(format) || "folder".equals(format)) && path == null) {
        throw new IllegalArgumentException("path: required with format " + format);
      }
      if ((x != null || y != null) && !pair && !"npz".equals(format)) {
        throw new IllegalArgumentException(
            (x != null ? "x" : "y") + ": only used with format npy, npz or idx");
      }
      if (layout != null) {
        layout = layout.toLowerCase(Locale.ROOT);
        if (!List.of("nchw", "nhwc").contains(layout)) {
          throw new IllegalArgumentException("layout: must be nchw or nhwc, was '" + layout + "'");
        }
        if (!"npy".equals(format) && !"npz".equals(format)) {
          throw new IllegalArgumentException("layout: only used with format npy or npz");
        }
      }
      if ((imageSize != null || channels != null || resize != null) && !"folder".equals(format)) {
        throw new IllegalArgumentException(
            (imageSize != null ? "image_size" : channels != null ? "channels" : "resize")
                + ": only used with format folder");
      }
      if (imageSize != null && imageSize < 1) {
        throw new IllegalArgumentException("image_size: must be >= 1, was " + imageSize);
      }
      if (channels != null && channels != 1 && channels != 3) {
        throw new IllegalArgumentException("channels: must be 1 or 3, was " + channels);
      }
      if (resize != null) {
        resize = resize.toLowerCase(Locale.ROOT).replace('-', '_');
        if (!List.of("center_crop", "resize").contains(resize)) {
          throw new IllegalArgumentException(
              "resize: must be center_crop or resize, was '" + resize + "'");
        }
        if (imageSize == null) {
          throw new IllegalArgumentException("resize: needs image_size");
        }
      }
    }

    /** A named dataset read from {@code path} (null: its default location). */
    public Data(String dataset, String path) {
      this(dataset, path, null, null, null, null, null, null, null);
    }

    /**
     * A copy whose files are at {@code p}: a named dataset's folder, the {@code npz} archive or
     * image folder, or the images file of {@code npy}/{@code idx}.
     */
    public Data withPath(String p) {
      boolean pair = "npy".equals(format) || "idx".equals(format);
      return new Data(
          dataset, pair ? path : p, format, pair ? p : x, y, layout, imageSize, channels, resize);
    }
  }

  /** Returns a copy that reads {@code dataset} (keeping the data path). */
  public EvaluationSuite withDataset(String dataset) {
    return withData(new Data(dataset, data.path()));
  }

  /**
   * Sanity checks run before the cascade on the probe samples (the first {@code probeSamples} of
   * the chosen samples, the same in every shard). See docs/diagnostics.md.
   *
   * @param randomness five repeated clean forward passes must agree (ARAT-D001; default true)
   * @param zeroGradient flag samples whose input gradient is exactly zero at the first gradient
   *     attack's start (ARAT-D003; default true)
   * @param fullRangePgd run PGD with Linf epsilon 1 (the whole image range): accuracy must fall to
   *     chance plus {@code chanceMargin}, otherwise gradients are obfuscated (ARAT-D007; default
   *     false)
   * @param fullRangeSteps PGD steps of that check, {@code > 0} (default 20)
   * @param chanceMargin allowed accuracy above chance {@code 1/K} for that check, in [0,1] (default
   *     0.1)
   * @param probeSamples how many samples the checks use, {@code > 0} (default 64, at most all)
   */
  public record Checks(
      Boolean randomness,
      Boolean zeroGradient,
      Boolean fullRangePgd,
      Integer fullRangeSteps,
      Double chanceMargin,
      Integer probeSamples) {
    /** Applies defaults and validates. */
    public Checks {
      randomness = randomness == null || randomness;
      zeroGradient = zeroGradient == null || zeroGradient;
      fullRangePgd = fullRangePgd != null && fullRangePgd;
      fullRangeSteps = fullRangeSteps == null ? 20 : fullRangeSteps;
      if (fullRangeSteps <= 0) {
        throw new IllegalArgumentException("full_range_steps: must be > 0, was " + fullRangeSteps);
      }
      chanceMargin = chanceMargin == null ? 0.1 : chanceMargin;
      Gates.unit(chanceMargin, "chance_margin");
      probeSamples = probeSamples == null ? 64 : probeSamples;
      if (probeSamples <= 0) {
        throw new IllegalArgumentException("probe_samples: must be > 0, was " + probeSamples);
      }
    }
  }

  /**
   * A robust-accuracy gate at one radius of the sweep.
   *
   * @param epsilon the radius (the threat model's or one of {@code epsilon_sweep})
   * @param min lowest acceptable robust accuracy in [0,1]
   * @param useLowerBound decide on the confidence interval's lower bound; null means the gates'
   *     {@code use_lower_bound}
   */
  public record EpsilonGate(Double epsilon, Double min, Boolean useLowerBound) {
    /** Validates. */
    public EpsilonGate {
      if (epsilon == null || !(epsilon > 0) || Double.isInfinite(epsilon)) {
        throw new IllegalArgumentException("epsilon: must be > 0, was " + epsilon);
      }
      if (min == null) {
        throw new IllegalArgumentException("min: required (a fraction in [0,1])");
      }
      Gates.unit(min, "min");
    }
  }

  /**
   * Thresholds; an absent gate is not checked. Accuracy gates compare the point estimate, or with
   * {@code useLowerBound} the lower bound of the 95% confidence interval ({@code interval}).
   *
   * @param minCleanAccuracy lowest acceptable clean accuracy in [0,1]
   * @param minRobustAccuracy lowest acceptable robust accuracy in [0,1] after the whole cascade
   * @param minRobustAccuracyAt lowest acceptable robust accuracy at given radii of the sweep
   * @param minClassRobustAccuracy lowest acceptable robust accuracy of every class (classes with
   *     samples), in [0,1]
   * @param maxRobustDrop largest acceptable fall of robust accuracy against a baseline report
   *     (fraction, e.g. 0.02 for two points); checked only when a baseline is given
   * @param useLowerBound decide accuracy gates on the interval's lower bound (default false)
   * @param interval {@code wilson} (default) or {@code clopper_pearson}: the interval whose lower
   *     bound the gates use
   * @param maxRobustDropVsParent largest acceptable fall of a variant's robust accuracy below its
   *     parent's (fraction, e.g. 0.02 for two points); checked only when variants are evaluated
   *     ({@code arat evaluate --variant})
   * @param minTop1Agreement lowest acceptable fraction of samples on which a variant's clean top-1
   *     class equals the parent's, in [0,1]; checked only when variants are evaluated
   */
  public record Gates(
      Double minCleanAccuracy,
      Double minRobustAccuracy,
      List<EpsilonGate> minRobustAccuracyAt,
      Double minClassRobustAccuracy,
      Double maxRobustDrop,
      Boolean useLowerBound,
      String interval,
      Double maxRobustDropVsParent,
      Double minTop1Agreement) {
    /** The interval names accepted by {@code interval}. */
    public static final List<String> INTERVALS = List.of("wilson", "clopper_pearson");

    /** Validates the ranges and applies defaults. */
    public Gates {
      unit(minCleanAccuracy, "min_clean_accuracy");
      unit(minRobustAccuracy, "min_robust_accuracy");
      unit(minClassRobustAccuracy, "min_class_robust_accuracy");
      unit(maxRobustDrop, "max_robust_drop");
      unit(maxRobustDropVsParent, "max_robust_drop_vs_parent");
      unit(minTop1Agreement, "min_top1_agreement");
      if (minRobustAccuracyAt != null) {
        for (int i = 0; i < minRobustAccuracyAt.size(); i++) {
          if (minRobustAccuracyAt.get(i) == null) {
            throw new IllegalArgumentException(
                "min_robust_accuracy_at[" + i + "]: must not be empty");
          }
        }
        minRobustAccuracyAt =
            minRobustAccuracyAt.isEmpty() ? null : List.copyOf(minRobustAccuracyAt);
      }
      useLowerBound = useLowerBound != null && useLowerBound;
      interval = interval == null ? "wilson" : interval.toLowerCase(Locale.ROOT).replace('-', '_');
      if (!INTERVALS.contains(interval)) {
        throw new IllegalArgumentException(
            "interval: must be one of " + INTERVALS + ", was '" + interval + "'");
      }
    }

    /** Without the variant gates (the layout before variants). */
    public Gates(
        Double minCleanAccuracy,
        Double minRobustAccuracy,
        List<EpsilonGate> minRobustAccuracyAt,
        Double minClassRobustAccuracy,
        Double maxRobustDrop,
        Boolean useLowerBound,
        String interval) {
      this(
          minCleanAccuracy,
          minRobustAccuracy,
          minRobustAccuracyAt,
          minClassRobustAccuracy,
          maxRobustDrop,
          useLowerBound,
          interval,
          null,
          null);
    }

    /** Only the clean and overall robust gates (the layout before sweeps and baselines). */
    public Gates(Double minCleanAccuracy, Double minRobustAccuracy) {
      this(minCleanAccuracy, minRobustAccuracy, null, null, null, null, null);
    }

    static void unit(Double v, String field) {
      if (v != null && !(v >= 0 && v <= 1)) {
        throw new IllegalArgumentException(field + ": must be in [0,1], was " + v);
      }
    }
  }
}
