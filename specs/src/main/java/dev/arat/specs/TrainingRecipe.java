package dev.arat.specs;

import java.util.List;
import java.util.Locale;

/**
 * A training run, as read from a recipe YAML file (snake_case keys, unknown keys rejected). Absent
 * fields take the documented defaults; {@link Specs#readRecipe} loads and validates it.
 *
 * @param method {@code standard}, {@code pgd-at} or {@code arat}
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
    Checkpointing checkpoint) {

  /** Known training methods. */
  public static final List<String> METHODS = List.of("standard", "pgd-at", "arat");

  /** Applies defaults and validates. */
  public TrainingRecipe {
    method = method == null ? "arat" : method.trim().toLowerCase(Locale.ROOT);
    if (!METHODS.contains(method)) {
      throw new IllegalArgumentException("method: must be one of " + METHODS + ", was '" + method + "'");
    }
    seed = seed == null ? 0L : seed;
    architecture = architecture == null ? "small-cnn" : architecture;
    if (!Architectures.NAMES.contains(architecture)) {
      throw new IllegalArgumentException(
          "architecture: must be one of " + Architectures.NAMES + ", was '" + architecture + "'");
    }
    data = data == null ? new Data(null, null, null, null) : data;
    epochs = epochs == null ? 1 : epochs;
    positive(epochs, "epochs");
    batchSize = batchSize == null ? 128 : batchSize;
    positive(batchSize, "batch_size");
    optimizer = optimizer == null ? new Optimizer(null, null, null, null) : optimizer;
    schedule = schedule == null ? new Schedule(null, null, null, null) : schedule;
    attack = attack == null ? new Attack(null, null, null, null, null) : attack;
    arat = arat == null ? new Arat(null, null, null, null, null, null, null, null, null, null) : arat;
    evaluation = evaluation == null ? new Evaluation(null, null, null) : evaluation;
    checkpoint = checkpoint == null ? new Checkpointing(null) : checkpoint;
  }

  /** Training and monitoring data. */
  public record Data(String dataset, String path, Integer trainSamples, Integer testSamples) {
    /** Applies defaults ({@code fashion-mnist}, Debian path, all training images, 1000 test). */
    public Data {
      dataset = dataset == null ? "fashion-mnist" : dataset;
      trainSamples = trainSamples == null ? 0 : trainSamples;
      if (trainSamples < 0) {
        throw new IllegalArgumentException("train_samples: must be >= 0 (0 = all), was " + trainSamples);
      }
      testSamples = testSamples == null ? 1000 : testSamples;
      if (testSamples < 0) {
        throw new IllegalArgumentException("test_samples: must be >= 0, was " + testSamples);
      }
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
   */
  public record Schedule(String type, List<Double> milestones, Double factor, Double warmupEpochs) {
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
    }

    /** The learning rate at fractional epoch {@code t} of {@code totalEpochs}, base {@code lr}. */
    public double at(double base, double t, int totalEpochs) {
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

  /** The in-training attack: PGD with a uniform random start, CE loss. */
  public record Attack(String norm, Double epsilon, Double stepSize, Integer steps, Boolean randomStart) {
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
   * ARAT's settings (ARAT-METHOD.md §1). Switches other than the defaults are the ablations of §6.4.
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
   * @param align alignment type: {@code x->y} (ARAT), {@code y->x}, {@code x->y,y->x}, {@code x<->y}
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
      String align) {
    /** Applies the paper's defaults (gamma 30, ratio 0.25, auto-balance, predictor, split-BN). */
    public Arat {
      gamma = gamma == null ? 30.0 : gamma;
      if (gamma < 0) {
        throw new IllegalArgumentException("gamma: must be >= 0, was " + gamma);
      }
      taps = taps == null ? null : List.copyOf(taps);
      predictorRatio = predictorRatio == null ? 0.25 : predictorRatio;
      if (!(predictorRatio > 0) || predictorRatio > 4) {
        throw new IllegalArgumentException("predictor_ratio: must be in (0,4], was " + predictorRatio);
      }
      autoBalance = autoBalance == null || autoBalance;
      balanceInterval = balanceInterval == null ? 0 : balanceInterval;
      if (balanceInterval < 0) {
        throw new IllegalArgumentException("balance_interval: must be >= 0, was " + balanceInterval);
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
