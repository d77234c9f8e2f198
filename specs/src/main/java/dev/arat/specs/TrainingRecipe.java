package dev.arat.specs;

import java.util.List;
import java.util.Locale;

/**
 * A training run, as read from a recipe YAML file (snake_case keys, unknown keys rejected). Absent
 * fields take the documented defaults; {@link Specs#readRecipe} loads and validates it.
 *
 * @param method {@code standard}, {@code pgd-at}, {@code trades} or {@code arat}
 * @param seed seed of every random choice (init, shuffling, augmentation, attack starts)
 * @param architecture a built-in architecture name ({@link Architectures#NAMES})
 * @param data where the training and monitoring data come from
 * @param epochs number of passes over the (sub-sampled) training set
 * @param batchSize training mini-batch size
 * @param optimizer SGD settings
 * @param schedule learning-rate schedule
 * @param attack the in-training PGD attack (ignored by {@code standard})
 * @param arat ARAT's settings (used by {@code arat} only)
 * @param evaluation the per-epoch monitoring evaluation
 * @param checkpoint checkpoint cadence
 * @param trades TRADES' settings (used by {@code trades} only)
 * @param swa stochastic weight averaging (ARAT-METHOD §4 "SWA"); null or absent = off
 * @param normalize {@code dataset} (default: the network subtracts the training set's channel mean
 *     and divides by its std) or {@code none} (mean 0, std 1: the paper's [0,1] inputs, §4)
 * @param device {@code auto} (default: a GPU when DJL reports one, else the CPU), {@code cpu},
 *     {@code gpu} (= {@code gpu:0}) or {@code gpu:N}; or several devices for data-parallel
 *     training, one replica each: a comma-separated list ({@code gpu:0,gpu:1}, short {@code
 *     gpu:0,1}) or {@code gpu:all}; {@code cpu,cpu} runs two replicas on the CPU (slower than one:
 *     it exists to test the multi-device path without GPUs). A GPU request that cannot be met is an
 *     error
 */
public record TrainingRecipe(
    String method,
    Long seed,
    String architecture,
    Data data,
    Integer epochs,
    Integer batchSize,
    Optimizer optimizer,
    Schedule schedule,
    Attack attack,
    Arat arat,
    Evaluation evaluation,
    Checkpointing checkpoint,
    Trades trades,
    Swa swa,
    String normalize,
    String device) {

  /** Known training methods. */
  public static final List<String> METHODS = List.of("standard", "pgd-at", "trades", "arat");

  /** The twelve-field form (no TRADES/SWA settings, dataset normalisation, automatic device). */
  public TrainingRecipe(
      String method,
      Long seed,
      String architecture,
      Data data,
      Integer epochs,
      Integer batchSize,
      Optimizer optimizer,
      Schedule schedule,
      Attack attack,
      Arat arat,
      Evaluation evaluation,
      Checkpointing checkpoint) {
    this(
        method,
        seed,
        architecture,
        data,
        epochs,
        batchSize,
        optimizer,
        schedule,
        attack,
        arat,
        evaluation,
        checkpoint,
        null,
        null,
        null,
        null);
  }

  /** Applies defaults and validates. */
  public TrainingRecipe {
    method = method == null ? "arat" : method.trim().toLowerCase(Locale.ROOT);
    if (!METHODS.contains(method)) {
      throw new IllegalArgumentException(
          "method: must be one of " + METHODS + ", was '" + method + "'");
    }
    seed = seed == null ? 0L : seed;
    architecture = architecture == null ? "small-cnn" : architecture;
    if (!Architectures.isKnown(architecture)) {
      throw new IllegalArgumentException(
          "architecture: must be one of "
              + Architectures.NAMES
              + " (or wrn-DEPTH-WIDTH), was '"
              + architecture
              + "'");
    }
    data = data == null ? new Data(null, null, null, null) : data;
    epochs = epochs == null ? 1 : epochs;
    positive(epochs, "epochs");
    batchSize = batchSize == null ? 128 : batchSize;
    positive(batchSize, "batch_size");
    optimizer = optimizer == null ? new Optimizer(null, null, null, null) : optimizer;
    schedule = schedule == null ? new Schedule(null, null, null, null, null) : schedule;
    attack = attack == null ? new Attack(null, null, null, null, null) : attack;
    arat =
        arat == null
            ? new Arat(null, null, null, null, null, null, null, null, null, null, null)
            : arat;
    evaluation = evaluation == null ? new Evaluation(null, null, null) : evaluation;
    checkpoint = checkpoint == null ? new Checkpointing(null) : checkpoint;
    trades = trades == null ? new Trades(null) : trades;
    normalize = normalize == null ? "dataset" : normalize.trim().toLowerCase(Locale.ROOT);
    if (!List.of("dataset", "none").contains(normalize)) {
      throw new IllegalArgumentException(
          "normalize: must be dataset or none, was '" + normalize + "'");
    }
    device = device == null ? "auto" : device.trim().toLowerCase(Locale.ROOT).replace(" ", "");
    String one = "(cpu|gpu|gpu:\\d{1,3}|\\d{1,3})";
    if (!device.matches("auto|gpu:all|" + one + "(," + one + ")*") || device.matches("\\d.*")) {
      throw new IllegalArgumentException(
          "device: must be auto, cpu, gpu, gpu:N, gpu:all or a "
              + "comma-separated list such as gpu:0,gpu:1 (short gpu:0,1), was '"
              + device
              + "'");
    }
  }

  /**
   * TRADES (Zhang et al. 2019): {@code CE(f(x),y) + β·KL(f(x) ‖ f(x'))}, x' from PGD on the KL.
   *
   * @param beta the weight β of the KL term (default 6, ARAT-METHOD Decision 7)
   */
  public record Trades(Double beta) {
    /** Applies the default β = 6. */
    public Trades {
      beta = beta == null ? 6.0 : beta;
      if (!(beta >= 0)) {
        throw new IllegalArgumentException("beta: must be >= 0, was " + beta);
      }
    }
  }

  /**
   * Stochastic weight averaging as in the ARAT+SWA scripts (ARAT-METHOD §4): an equal-weight
   * running mean of the parameters (conv/linear weights and both BN sets' affine; not BN running
   * statistics, not predictors), updated after every optimizer step {@code t} (1-based global step)
   * with {@code t % every_steps == 0} in epochs {@code >= start_epoch}; at the end of training its
   * adversarial BN statistics are re-estimated with PGD examples crafted against it.
   *
   * @param startEpoch first (1-based) epoch whose steps may update the average (default 76)
   * @param everySteps update every this many optimizer steps (default 500)
   * @param bnBatches training batches of the BN re-estimation pass (0 = one full pass, default)
   */
  public record Swa(Integer startEpoch, Integer everySteps, Integer bnBatches) {
    /** Applies the paper's defaults (76, 500, one full pass). */
    public Swa {
      startEpoch = startEpoch == null ? 76 : startEpoch;
      positive(startEpoch, "start_epoch");
      everySteps = everySteps == null ? 500 : everySteps;
      positive(everySteps, "every_steps");
      bnBatches = bnBatches == null ? 0 : bnBatches;
      if (bnBatches < 0) {
        throw new IllegalArgumentException(
            "bn_batches: must be >= 0 (0 = one pass), was " + bnBatches);
      }
    }
  }

  /**
   * Training and monitoring data.
   *
   * @param dataset a dataset name (see {@code dev.arat.data.Datasets.NAMES})
   * @param path folder (or CIFAR tarball) holding its files; null for the default location
   * @param trainSamples a seeded subset of the training set (0 = all)
   * @param testSamples test images available for monitoring
   * @param augmentation training-time augmentation (test data is never augmented)
   * @param imageSize image folders: side length after resizing
   * @param resize image folders: {@code center_crop} or {@code resize}
   * @param channels image folders: 1 (grey) or 3 (RGB)
   * @param testFraction image folders without train/test subfolders: seeded test share
   */
  public record Data(
      String dataset,
      String path,
      Integer trainSamples,
      Integer testSamples,
      Augment augmentation,
      Integer imageSize,
      String resize,
      Integer channels,
      Double testFraction) {
    /** The four-field form (no augmentation, default image-folder settings). */
    public Data(String dataset, String path, Integer trainSamples, Integer testSamples) {
      this(dataset, path, trainSamples, testSamples, null, null, null, null, null);
    }

    /** Applies defaults ({@code fashion-mnist}, Debian path, all training images, 1000 test). */
    public Data {
      dataset = dataset == null ? "fashion-mnist" : dataset;
      trainSamples = trainSamples == null ? 0 : trainSamples;
      if (trainSamples < 0) {
        throw new IllegalArgumentException(
            "train_samples: must be >= 0 (0 = all), was " + trainSamples);
      }
      testSamples = testSamples == null ? 1000 : testSamples;
      if (testSamples < 0) {
        throw new IllegalArgumentException("test_samples: must be >= 0, was " + testSamples);
      }
      augmentation = augmentation == null ? new Augment(null, null) : augmentation;
      imageSize = imageSize == null ? 32 : imageSize;
      if (imageSize < 1) {
        throw new IllegalArgumentException("image_size: must be >= 1, was " + imageSize);
      }
      resize = resize == null ? "center_crop" : resize.trim().toLowerCase(Locale.ROOT);
      if (!List.of("center_crop", "resize").contains(resize)) {
        throw new IllegalArgumentException(
            "resize: must be center_crop or resize, was '" + resize + "'");
      }
      channels = channels == null ? 3 : channels;
      if (channels != 1 && channels != 3) {
        throw new IllegalArgumentException("channels: must be 1 or 3, was " + channels);
      }
      testFraction = testFraction == null ? 0.2 : testFraction;
      if (!(testFraction >= 0 && testFraction < 1)) {
        throw new IllegalArgumentException("test_fraction: must be in [0,1), was " + testFraction);
      }
    }
  }

  /**
   * Training-time augmentation (the paper's CIFAR setting is padding 4 with flips).
   *
   * @param randomCropPadding zero padding before a random crop back to the original size (0 = off)
   * @param horizontalFlip flip each image with probability 1/2
   */
  public record Augment(Integer randomCropPadding, Boolean horizontalFlip) {
    /** Applies defaults (no augmentation). */
    public Augment {
      randomCropPadding = randomCropPadding == null ? 0 : randomCropPadding;
      if (randomCropPadding < 0) {
        throw new IllegalArgumentException(
            "random_crop_padding: must be >= 0, was " + randomCropPadding);
      }
      horizontalFlip = horizontalFlip != null && horizontalFlip;
    }

    /** Whether any augmentation is on. */
    public boolean enabled() {
      return randomCropPadding > 0 || horizontalFlip;
    }
  }

  /** SGD with momentum; weight decay applies to every parameter, as in the paper's code. */
  public record Optimizer(Double lr, Double momentum, Double weightDecay, Boolean nesterov) {
    /** Applies the paper's defaults (0.1, 0.9, 5e-4, no Nesterov). */
    public Optimizer {
      lr = lr == null ? 0.1 : lr;
      if (!(lr > 0)) {
        throw new IllegalArgumentException("lr: must be > 0, was " + lr);
      }
      momentum = momentum == null ? 0.9 : momentum;
      if (momentum < 0 || momentum >= 1) {
        throw new IllegalArgumentException("momentum: must be in [0,1), was " + momentum);
      }
      weightDecay = weightDecay == null ? 5e-4 : weightDecay;
      if (weightDecay < 0) {
        throw new IllegalArgumentException("weight_decay: must be >= 0, was " + weightDecay);
      }
      nesterov = nesterov != null && nesterov;
      if (nesterov && momentum == 0) {
        throw new IllegalArgumentException("nesterov: needs momentum > 0 (as in PyTorch)");
      }
    }
  }

  /**
   * Learning-rate schedule, evaluated per step from the fractional epoch.
   *
   * @param type {@code constant}, {@code piecewise} (multiply by {@code factor} at each milestone
   *     epoch) or {@code cosine} (to 0 at the end)
   * @param milestones epochs at which {@code piecewise} decays
   * @param factor the decay factor
   * @param warmupEpochs linear warm-up from 0, in (possibly fractional) epochs
   * @param firstEpochLr when set, the learning rate throughout epoch 1 (fractional epoch {@code t <
   *     1}), overriding the schedule and warm-up there. The released ARAT code's effective schedule
   *     (ARAT-METHOD §4, P3) is {@code {type: piecewise, milestones: [76, 91], first_epoch_lr:
   *     0.02}} with base lr 0.1: 0.02 in epoch 1, 0.1 in epochs 2-76, 0.01 in 77-91, 0.001 after.
   */
  public record Schedule(
      String type,
      List<Double> milestones,
      Double factor,
      Double warmupEpochs,
      Double firstEpochLr) {
    /** The four-field form (no first-epoch override). */
    public Schedule(String type, List<Double> milestones, Double factor, Double warmupEpochs) {
      this(type, milestones, factor, warmupEpochs, null);
    }

    /** Applies defaults (piecewise at the paper's 75 and 90, factor 0.1, no warm-up). */
    public Schedule {
      type = type == null ? "piecewise" : type.toLowerCase(Locale.ROOT);
      if (!List.of("constant", "piecewise", "cosine").contains(type)) {
        throw new IllegalArgumentException(
            "type: must be constant, piecewise or cosine, was '" + type + "'");
      }
      milestones = milestones == null ? List.of(75.0, 90.0) : List.copyOf(milestones);
      factor = factor == null ? 0.1 : factor;
      if (!(factor > 0)) {
        throw new IllegalArgumentException("factor: must be > 0, was " + factor);
      }
      warmupEpochs = warmupEpochs == null ? 0.0 : warmupEpochs;
      if (warmupEpochs < 0) {
        throw new IllegalArgumentException("warmup_epochs: must be >= 0, was " + warmupEpochs);
      }
      if (firstEpochLr != null && !(firstEpochLr > 0)) {
        throw new IllegalArgumentException("first_epoch_lr: must be > 0, was " + firstEpochLr);
      }
    }

    /** The learning rate at fractional epoch {@code t} of {@code totalEpochs}, base {@code lr}. */
    public double at(double base, double t, int totalEpochs) {
      if (firstEpochLr != null && t < 1) {
        return firstEpochLr;
      }
      double lr = base;
      switch (type) {
        case "piecewise":
          for (double m : milestones) {
            if (t >= m) {
              lr *= factor;
            }
          }
          break;
        case "cosine":
          double span = Math.max(1e-12, totalEpochs - warmupEpochs);
          double progress = Math.min(1.0, Math.max(0.0, (t - warmupEpochs) / span));
          lr = base * 0.5 * (1 + Math.cos(Math.PI * progress));
          break;
        default:
          break;
      }
      if (warmupEpochs > 0 && t < warmupEpochs) {
        lr *= t / warmupEpochs;
      }
      return lr;
    }
  }

  /**
   * The in-training attack: PGD with a uniform random start, CE loss ({@code pgd-at}, {@code
   * arat}); for {@code trades} the KL attack with TRADES' {@code 0.001·N(0,1)} start ({@code
   * random_start} is ignored there). Also the threat model of the per-epoch PGD monitoring.
   */
  public record Attack(
      String norm, Double epsilon, Double stepSize, Integer steps, Boolean randomStart) {
    /** Applies the paper's CIFAR defaults (Linf, 8/255, 2/255, 10 steps, random start). */
    public Attack {
      norm = Norm.fromId(norm == null ? "Linf" : norm).id();
      epsilon = epsilon == null ? 8.0 / 255 : epsilon;
      if (!(epsilon > 0)) {
        throw new IllegalArgumentException("epsilon: must be > 0, was " + epsilon);
      }
      stepSize = stepSize == null ? epsilon / 4 : stepSize;
      if (!(stepSize > 0)) {
        throw new IllegalArgumentException("step_size: must be > 0, was " + stepSize);
      }
      steps = steps == null ? 10 : steps;
      positive(steps, "steps");
      randomStart = randomStart == null || randomStart;
    }

    /** The attack's threat model. */
    public ThreatModel threatModel() {
      return new ThreatModel(Norm.fromId(norm), epsilon);
    }
  }

  /**
   * ARAT's settings (ARAT-METHOD.md §1). Switches other than the defaults are the ablations of
   * §6.4.
   *
   * @param gamma total invariance weight, split equally over the taps
   * @param taps tapped layer names; null means the architecture's own taps
   * @param predictorRatio predictor hidden width as a fraction of the feature dimension
   * @param autoBalance weight the CEs by the clean-branch accuracy a: w_adv = a, w_clean = 1 - a
   * @param balanceInterval re-measure a every this many training images (0 = once per epoch)
   * @param balanceSamples training images used to measure a
   * @param predictor use the predictor MLP on the adversarial side
   * @param stopGradient stop the gradient through the clean features
   * @param splitBn separate clean and adversarial BN statistics and affines
   * @param align alignment type: {@code x->y} (ARAT), {@code y->x}, {@code x->y,y->x}, {@code
   *     x<->y}
   * @param conflictInterval log the gradient-conflict metric of ARAT-METHOD §7 every this many
   *     optimizer steps (0 = off; default 100, measured at about 1% of the training time)
   */
  public record Arat(
      Double gamma,
      List<String> taps,
      Double predictorRatio,
      Boolean autoBalance,
      Integer balanceInterval,
      Integer balanceSamples,
      Boolean predictor,
      Boolean stopGradient,
      Boolean splitBn,
      String align,
      Integer conflictInterval) {
    /** The ten-field form (default conflict interval). */
    public Arat(
        Double gamma,
        List<String> taps,
        Double predictorRatio,
        Boolean autoBalance,
        Integer balanceInterval,
        Integer balanceSamples,
        Boolean predictor,
        Boolean stopGradient,
        Boolean splitBn,
        String align) {
      this(
          gamma,
          taps,
          predictorRatio,
          autoBalance,
          balanceInterval,
          balanceSamples,
          predictor,
          stopGradient,
          splitBn,
          align,
          null);
    }

    /** Applies the paper's defaults (gamma 30, ratio 0.25, auto-balance, predictor, split-BN). */
    public Arat {
      gamma = gamma == null ? 30.0 : gamma;
      if (gamma < 0) {
        throw new IllegalArgumentException("gamma: must be >= 0, was " + gamma);
      }
      taps = taps == null ? null : List.copyOf(taps);
      predictorRatio = predictorRatio == null ? 0.25 : predictorRatio;
      if (!(predictorRatio > 0) || predictorRatio > 4) {
        throw new IllegalArgumentException(
            "predictor_ratio: must be in (0,4], was " + predictorRatio);
      }
      autoBalance = autoBalance == null || autoBalance;
      balanceInterval = balanceInterval == null ? 0 : balanceInterval;
      if (balanceInterval < 0) {
        throw new IllegalArgumentException(
            "balance_interval: must be >= 0, was " + balanceInterval);
      }
      balanceSamples = balanceSamples == null ? 1024 : balanceSamples;
      positive(balanceSamples, "balance_samples");
      predictor = predictor == null || predictor;
      stopGradient = stopGradient == null || stopGradient;
      splitBn = splitBn == null || splitBn;
      align = align == null ? "x->y" : align.replace(" ", "");
      if (!List.of("x->y", "y->x", "x->y,y->x", "x<->y").contains(align)) {
        throw new IllegalArgumentException(
            "align: must be one of x->y, y->x, x->y,y->x, x<->y, was '" + align + "'");
      }
      conflictInterval = conflictInterval == null ? 100 : conflictInterval;
      if (conflictInterval < 0) {
        throw new IllegalArgumentException(
            "conflict_interval: must be >= 0 (0 = off), was " + conflictInterval);
      }
    }
  }

  /** Per-epoch monitoring: clean accuracy of both branches and PGD robust accuracy. */
  public record Evaluation(Integer samples, Integer pgdSteps, Integer everyEpochs) {
    /** Applies defaults (500 test images, PGD-20, every epoch). */
    public Evaluation {
      samples = samples == null ? 500 : samples;
      if (samples < 0) {
        throw new IllegalArgumentException("samples: must be >= 0, was " + samples);
      }
      pgdSteps = pgdSteps == null ? 20 : pgdSteps;
      positive(pgdSteps, "pgd_steps");
      everyEpochs = everyEpochs == null ? 1 : everyEpochs;
      positive(everyEpochs, "every_epochs");
    }
  }

  /** Checkpoint cadence: always at each epoch end, and every {@code everySteps} steps if > 0. */
  public record Checkpointing(Integer everySteps) {
    /** Applies the default (epoch ends only). */
    public Checkpointing {
      everySteps = everySteps == null ? 0 : everySteps;
      if (everySteps < 0) {
        throw new IllegalArgumentException("every_steps: must be >= 0, was " + everySteps);
      }
    }
  }

  private static void positive(int value, String field) {
    if (value <= 0) {
      throw new IllegalArgumentException(field + ": must be > 0, was " + value);
    }
  }
}
