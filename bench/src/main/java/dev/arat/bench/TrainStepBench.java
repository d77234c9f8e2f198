package dev.arat.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.Seeds;
import dev.arat.data.ImageDataset;
import dev.arat.data.SyntheticDataset;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Architectures;
import dev.arat.specs.Specs;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.Objective;
import dev.arat.trainer.Trainer;
import dev.arat.trainer.nn.Sgd;
import dev.arat.trainer.nn.SplitBnNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntConsumer;
import java.util.function.IntFunction;

/**
 * Training-speed measurements of the trainer's real step code ({@link Objective#adversarial},
 * {@link Objective#backward}, {@link Sgd#step}) on synthetic data: ARAT vs PGD-AT vs a plain step,
 * and the attack-suite adapter PGD path vs the same loop on DJL arrays ({@link DirectPgd}).
 *
 * <p>Methodology: every setup is warmed up, then the compared setups are run <em>interleaved</em>
 * (one repetition of each per round, the order rotated every round), so slow drifts of the machine
 * load hit both sides alike; ratios are reported per round (paired) as median and IQR, and as the
 * ratio of the medians. Numbers are printed, never asserted.
 */
public final class TrainStepBench {

  /**
   * What to measure.
   *
   * @param model architecture name ({@code small-cnn}, {@code resnet18}, any built-in)
   * @param batch images per step
   * @param channels input channels
   * @param height input height
   * @param width input width
   * @param classes number of classes
   * @param pgdSteps in-training PGD iterations (both methods)
   * @param warmup untimed repetitions per setup
   * @param iterations timed repetitions per setup
   * @param seed data, init and attack seed
   */
  public record Config(
      String model,
      int batch,
      int channels,
      int height,
      int width,
      int classes,
      int pgdSteps,
      int warmup,
      int iterations,
      long seed) {
    /** Validates. */
    public Config {
      if (!Architectures.isKnown(model)) {
        throw new IllegalArgumentException(
            "model: unknown '" + model + "', expected one of " + Architectures.NAMES);
      }
      if (batch < 2) {
        throw new IllegalArgumentException(
            "batch must be >= 2 (BatchNorm in train mode), was " + batch);
      }
      if (channels < 1 || height < 1 || width < 1 || classes < 2) {
        throw new IllegalArgumentException(
            "bad geometry " + channels + "x" + height + "x" + width + " / " + classes + " classes");
      }
      if (pgdSteps < 1 || warmup < 0 || iterations < 1) {
        throw new IllegalArgumentException("pgd steps and iterations must be >= 1, warmup >= 0");
      }
    }

    /**
     * Defaults for a model: small-cnn 1x28x28 batch 128, 20 timed iterations; resnet18 (and the
     * other CIFAR models) 3x32x32 batch 32, 5 timed iterations; PGD-10, 10 classes.
     */
    public static Config defaults(String model) {
      boolean small = "small-cnn".equals(model);
      return new Config(
          model,
          small ? 128 : 32,
          small ? 1 : 3,
          small ? 28 : 32,
          small ? 28 : 32,
          10,
          10,
          small ? 3 : 1,
          small ? 20 : 5,
          1);
    }

    /** Linf budget used: 0.1 for one channel (Fashion-MNIST), 8/255 otherwise. */
    public double epsilon() {
      return channels == 1 ? 0.1 : 8.0 / 255;
    }
  }

  /**
   * One timed quantity.
   *
   * @param name short key ({@code arat_step}, ...)
   * @param description what was timed
   * @param batch images per repetition
   * @param seconds seconds per repetition
   */
  public record Measurement(String name, String description, int batch, Stats seconds) {
    /** Images per second at the median time. */
    public double imagesPerSecond() {
      return batch / seconds.median();
    }
  }

  /**
   * A ratio of two measurements.
   *
   * @param name short key
   * @param numerator numerator measurement name
   * @param denominator denominator measurement name
   * @param paired per-round ratios (interleaved rounds), or null when not paired
   * @param ofMedians median(numerator) / median(denominator)
   * @param target the target, as text
   * @param targetMax the ratio must be at most this to meet the target
   */
  public record Ratio(
      String name,
      String numerator,
      String denominator,
      Stats paired,
      double ofMedians,
      String target,
      double targetMax) {
    /**
     * A ratio of two interleaved measurements: per round {@code numerator[i] / denominator[i]}
     * (paired), and the ratio of their medians.
     */
    static Ratio paired(
        String name,
        Measurement numerator,
        double[] numeratorRounds,
        Measurement denominator,
        double[] denominatorRounds,
        String target,
        double targetMax) {
      double[] q = new double[numeratorRounds.length];
      for (int i = 0; i < q.length; i++) {
        q[i] = numeratorRounds[i] / denominatorRounds[i];
      }
      return new Ratio(
          name,
          numerator.name(),
          denominator.name(),
          Stats.of(q),
          numerator.seconds().median() / denominator.seconds().median(),
          target,
          targetMax);
    }

    /** The headline value: the paired median when available, else the ratio of medians. */
    public double value() {
      return paired != null ? paired.median() : ofMedians;
    }

    /** Whether the headline value meets the target. */
    public boolean met() {
      return value() <= targetMax;
    }
  }

  private final Config config;
  private final PrintStream progress;

  /**
   * Creates the benchmark.
   *
   * @param config what to measure
   * @param progress progress lines (null for none)
   */
  public TrainStepBench(Config config, PrintStream progress) {
    this.config = config;
    this.progress = progress;
  }

  // ------------------------------------------------------------------ engine settings

  /** Starts the engine (PyTorch) and returns its name. */
  public static String engine() {
    return Engine.getInstance().getEngineName();
  }

  /**
   * Sets libtorch's intra-op threads ({@code n <= 0}: leave as is) and returns the count in use.
   */
  public static int threads(int n) {
    engine();
    if (n > 0) {
      JniUtils.setNumThreads(n);
    }
    return JniUtils.getNumThreads();
  }

  /** libtorch's inter-op threads. */
  public static int interopThreads() {
    engine();
    return JniUtils.getNumInteropThreads();
  }

  // ------------------------------------------------------------------ one training setup

  /** A network, its objective and optimizer, and a fixed synthetic batch: one training setup. */
  static final class Setup implements AutoCloseable {
    final String method;
    final SplitBnNetwork net;
    final Objective objective;
    final Sgd sgd;
    final ImageBatch x;
    final int[] labels;
    final long[] ids;
    final TrainingRecipe recipe;
    long stepCounter;
    double lastAttackSeconds;

    Setup(Config c, String method, NDManager root) {
      this.method = method;
      this.recipe = recipe(c, method);
      ArchitectureSpec arch = architecture(c);
      this.net = Trainer.newNetwork(recipe, arch, root);
      this.objective = new Objective(recipe, net);
      this.sgd = new Sgd(net, 0.9, 5e-4, false);
      ImageDataset d =
          SyntheticDataset.generate(
              c.seed(), c.batch(), c.channels(), c.height(), c.width(), c.classes());
      this.x = new ImageBatch(d.pixels(), c.batch(), c.channels(), c.height(), c.width());
      this.labels = d.labels();
      this.ids = new long[c.batch()];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = i;
      }
    }

    /** One full trainer step; returns its seconds and keeps the attack's in lastAttackSeconds. */
    double step() {
      long t0 = System.nanoTime();
      ImageBatch adv =
          objective.adversarial(x, labels, ids, Seeds.mix(recipe.seed(), stepCounter++));
      long t1 = System.nanoTime();
      try (NDManager step = net.manager().newSubManager()) {
        objective.backward(step, x, adv, labels, 0.5, 0.5, Objective.allTerms());
        sgd.step(0.01, step);
      }
      long t2 = System.nanoTime();
      lastAttackSeconds = (t1 - t0) / 1e9;
      return (t2 - t0) / 1e9;
    }

    @Override
    public void close() {
      net.close();
    }
  }

  static TrainingRecipe recipe(Config c, String method) {
    double eps = c.epsilon();
    String yaml =
        String.format(
            Locale.ROOT,
            "method: %s\nseed: %d\narchitecture: %s\nbatch_size: %d\n"
                + "attack: {norm: Linf, epsilon: %s, step_size: %s, steps: %d, random_start: true}\n",
            method,
            c.seed(),
            c.model(),
            c.batch(),
            Double.toString(eps),
            Double.toString(eps / 4),
            c.pgdSteps());
    return Specs.parse(yaml, TrainingRecipe.class, "bench");
  }

  static ArchitectureSpec architecture(Config c) {
    float[] mean = new float[c.channels()];
    float[] std = new float[c.channels()];
    Arrays.fill(mean, 0.5f);
    Arrays.fill(std, 0.25f);
    return Architectures.named(
        c.model(), c.channels(), c.height(), c.width(), c.classes(), mean, std);
  }

  // ------------------------------------------------------------------ comparison 1 (+ plain step)

  /** Result of {@link #trainSteps}. */
  public record StepResults(List<Measurement> measurements, Ratio aratOverPgdAt) {}

  /**
   * Times the ARAT step, the PGD-AT step and the plain (standard) step of the trainer, interleaved.
   * ARAT = PGD on the adversarial BN set + clean forward + adversarial forward + invariance + one
   * backward + SGD; PGD-AT = PGD + one forward/backward + SGD; plain = one forward/backward + SGD.
   */
  public StepResults trainSteps() {
    String[] methods = {"arat", "pgd-at", "standard"};
    int r = config.iterations();
    double[][] total = new double[3][r];
    double[][] attack = new double[3][r];
    try (NDManager root = NDManager.newBaseManager()) {
      List<Setup> setups = new ArrayList<>();
      try {
        for (String m : methods) {
          setups.add(new Setup(config, m, root));
        }
        for (int i = 0; i < 3; i++) {
          for (int w = 0; w < config.warmup(); w++) {
            setups.get(i).step();
          }
        }
        interleave(
            total,
            attack,
            i -> {
              Setup s = setups.get(i);
              return new double[] {s.step(), s.lastAttackSeconds};
            },
            it ->
                log(
                    "train steps round %d/%d: arat %.3fs  pgd-at %.3fs  plain %.3fs",
                    it + 1, r, total[0][it], total[1][it], total[2][it]));
      } finally {
        for (Setup s : setups) {
          s.close();
        }
      }
    }
    int b = config.batch();
    int k = config.pgdSteps();
    List<Measurement> ms = new ArrayList<>();
    ms.add(
        new Measurement(
            "arat_step",
            "ARAT step: PGD-" + k + " + clean fwd + adv fwd + " + "invariance + 1 backward + SGD",
            b,
            Stats.of(total[0])));
    ms.add(
        new Measurement(
            "pgd_at_step", "PGD-AT step: PGD-" + k + " + 1 fwd/bwd + SGD", b, Stats.of(total[1])));
    ms.add(new Measurement("plain_step", "plain step: 1 fwd/bwd + SGD", b, Stats.of(total[2])));
    ms.add(
        new Measurement(
            "arat_attack",
            "PGD-" + k + " inside the ARAT step (split-BN net)",
            b,
            Stats.of(attack[0])));
    ms.add(
        new Measurement(
            "pgd_at_attack", "PGD-" + k + " inside the PGD-AT step", b, Stats.of(attack[1])));
    double[] rest0 = new double[r];
    double[] rest1 = new double[r];
    for (int i = 0; i < r; i++) {
      rest0[i] = total[0][i] - attack[0][i];
      rest1[i] = total[1][i] - attack[1][i];
    }
    ms.add(
        new Measurement(
            "arat_update", "ARAT step minus its attack (2 fwd + 1 bwd + SGD)", b, Stats.of(rest0)));
    ms.add(
        new Measurement(
            "pgd_at_update", "PGD-AT step minus its attack (1 fwd/bwd + SGD)", b, Stats.of(rest1)));
    Ratio rt =
        Ratio.paired(
            "arat_over_pgd_at",
            ms.get(0),
            total[0],
            ms.get(1),
            total[1],
            "<= 1.2 (paper: 1.15 on GPU)",
            1.2);
    return new StepResults(ms, rt);
  }

  // ------------------------------------------------------------------ comparison 2

  /**
   * Result of {@link #versusTorch}.
   *
   * @param measurements ours and PyTorch's plain and PGD-AT steps and attacks
   * @param ratios ours / PyTorch for the plain and the PGD-AT step, paired per round
   * @param torchInfo the PyTorch child's version, threads, allocator, ...
   */
  public record TorchResults(
      List<Measurement> measurements, List<Ratio> ratios, Map<String, Object> torchInfo) {}

  /**
   * Times the trainer's plain and PGD-AT steps against the same steps in PyTorch eager ({@code
   * worker}), interleaved: every round runs one repetition of each of the four in a rotated order,
   * so machine-load drifts hit both implementations alike, and the ratios ours/PyTorch are taken
   * per round (paired). The Java setups are fresh (no ARAT step runs in between).
   */
  public TorchResults versusTorch(TorchBaseline.Worker worker) {
    int r = config.iterations();
    double[][] total = new double[4][r];
    double[][] attack = new double[4][r];
    try (NDManager root = NDManager.newBaseManager();
        Setup plain = new Setup(config, "standard", root);
        Setup pgdAt = new Setup(config, "pgd-at", root)) {
      for (int w = 0; w < config.warmup(); w++) {
        plain.step();
        pgdAt.step();
      }
      interleave(
          total,
          attack,
          i ->
              switch (i) {
                case 0 -> new double[] {plain.step(), 0};
                case 1 -> new double[] {pgdAt.step(), pgdAt.lastAttackSeconds};
                case 2 -> worker.step("plain");
                default -> worker.step("pgd_at");
              },
          it ->
              log(
                  "vs torch round %d/%d: plain ours %.3fs torch %.3fs  pgd-at ours %.3fs "
                      + "torch %.3fs",
                  it + 1, r, total[0][it], total[2][it], total[1][it], total[3][it]));
    }
    int b = config.batch();
    int k = config.pgdSteps();
    List<Measurement> ms = new ArrayList<>();
    ms.add(
        new Measurement(
            "plain_step_vs_torch",
            "ours: plain step (interleaved with PyTorch)",
            b,
            Stats.of(total[0])));
    ms.add(
        new Measurement(
            "pgd_at_step_vs_torch",
            "ours: PGD-" + k + " PGD-AT step " + "(interleaved with PyTorch)",
            b,
            Stats.of(total[1])));
    ms.add(
        new Measurement(
            "pgd_at_attack_vs_torch", "ours: the PGD-" + k + " inside it", b, Stats.of(attack[1])));
    ms.add(new Measurement("torch_plain_step", "PyTorch eager: plain step", b, Stats.of(total[2])));
    ms.add(
        new Measurement(
            "torch_pgd_at_step",
            "PyTorch eager: PGD-" + k + " PGD-AT step",
            b,
            Stats.of(total[3])));
    ms.add(
        new Measurement(
            "torch_pgd_at_attack",
            "PyTorch eager: the PGD-" + k + " inside it",
            b,
            Stats.of(attack[3])));
    List<Ratio> ratios =
        List.of(
            Ratio.paired(
                "plain_step_ours_over_torch",
                ms.get(0),
                total[0],
                ms.get(3),
                total[2],
                "<= 1.0",
                1.0),
            Ratio.paired(
                "pgd_at_step_ours_over_torch",
                ms.get(1),
                total[1],
                ms.get(4),
                total[3],
                "<= 1.0",
                1.0));
    return new TorchResults(ms, ratios, worker.info());
  }

  // ------------------------------------------------------------------ comparison 3

  /** Result of {@link #attackPaths}. */
  public record AttackResults(
      List<Measurement> measurements, Ratio adapterOverDirect, List<Measurement> breakdown) {}

  /**
   * Times in-training PGD through the attack-suite adapter ({@link Objective#adversarial}, i.e.
   * {@code Pgd.perturb} over {@code NetworkClassifier} with float[] copies) against {@link
   * DirectPgd} on the same PGD-AT network, same mode (adversarial BN set, train mode, weights
   * frozen), interleaved. Also times the adapter's per-iteration extra work in isolation.
   */
  public AttackResults attackPaths() {
    int r = config.iterations();
    double[] adapter = new double[r];
    double[] direct = new double[r];
    double eps = config.epsilon();
    Shape shape = new Shape(config.batch(), config.channels(), config.height(), config.width());
    List<Measurement> breakdown;
    try (NDManager root = NDManager.newBaseManager();
        Setup s = new Setup(config, "pgd-at", root)) {
      Runnable a = () -> s.objective.adversarial(s.x, s.labels, s.ids, s.stepCounter++);
      Runnable d =
          () ->
              DirectPgd.perturb(
                  s.net,
                  Branch.ADV,
                  true,
                  s.x.data(),
                  s.labels,
                  shape,
                  eps,
                  eps / 4,
                  config.pgdSteps(),
                  true);
      for (int w = 0; w < Math.max(1, config.warmup()); w++) {
        a.run();
        d.run();
      }
      for (int it = 0; it < r; it++) {
        if (it % 2 == 0) {
          adapter[it] = time(a);
          direct[it] = time(d);
        } else {
          direct[it] = time(d);
          adapter[it] = time(a);
        }
        log(
            "attack paths round %d/%d: adapter %.3fs  direct %.3fs",
            it + 1, r, adapter[it], direct[it]);
      }
      breakdown = breakdown(s, shape);
    }
    int b = config.batch();
    int k = config.pgdSteps();
    List<Measurement> ms = new ArrayList<>();
    ms.add(
        new Measurement(
            "pgd_adapter",
            "PGD-" + k + " via Pgd.perturb + NetworkClassifier " + "(float[] copies)",
            b,
            Stats.of(adapter)));
    ms.add(
        new Measurement(
            "pgd_direct", "PGD-" + k + " on DJL arrays (DirectPgd)", b, Stats.of(direct)));
    Ratio rt =
        Ratio.paired(
            "pgd_adapter_over_direct",
            ms.get(0),
            adapter,
            ms.get(1),
            direct,
            "<= 1.05 (overhead <= 5%)",
            1.05);
    return new AttackResults(ms, rt, breakdown);
  }

  /**
   * The adapter's per-PGD-iteration extra work, each part timed alone (seconds per iteration):
   * float[] to native and back (input, logits, gradient), the weight freeze/unfreeze toggle, and
   * the Java sign-step and projection loops.
   */
  private List<Measurement> breakdown(Setup s, Shape shape) {
    int reps = 20;
    float[] x0 = s.x.data();
    float[] cur = x0.clone();
    int per = s.x.imageSize();
    int n = s.x.n();
    int k = config.classes();
    double[] copies = new double[reps];
    double[] freeze = new double[reps];
    double[] loops = new double[reps];
    double eps = config.epsilon();
    for (int i = 0; i < reps; i++) {
      copies[i] =
          time(
              () -> {
                try (NDManager m = s.net.manager().newSubManager()) {
                  var in = m.create(x0, shape);
                  var logits = m.create(new float[n * k], new Shape(n, k));
                  logits.toFloatArray();
                  m.create(new float[n * k], new Shape(n, k));
                  in.toFloatArray();
                }
              });
      freeze[i] =
          time(
              () -> {
                s.net.setTrainable(false);
                s.net.setTrainable(true);
              });
      float[] grad = x0;
      float[][] box = dev.arat.attack.AbstractAttack.linfBox(eps, x0);
      loops[i] =
          time(
              () -> {
                for (int j = 0; j < n; j++) {
                  dev.arat.attack.AbstractAttack.linfStep(
                      eps / 4, cur, grad, j * per, x0, box, j * per, per);
                }
              });
    }
    int b = config.batch();
    List<Measurement> out = new ArrayList<>();
    out.add(
        new Measurement(
            "adapter_copies_per_iter",
            "float[]->native input, logits out, " + "logit-gradient in, input gradient out",
            b,
            Stats.of(copies)));
    out.add(
        new Measurement(
            "adapter_freeze_per_iter",
            "setTrainable(false)+setTrainable(true)",
            b,
            Stats.of(freeze)));
    out.add(
        new Measurement(
            "adapter_java_step_per_iter",
            "Java sign step + Linf projection over " + "the batch (PGD's fused loop)",
            b,
            Stats.of(loops)));
    return out;
  }

  /**
   * Runs {@code total.length} setups interleaved for {@code total[0].length} rounds: in round
   * {@code it} setup {@code (j + it) % k} runs {@code j}-th, so the order rotates and load drifts
   * hit every setup alike. {@code step} runs one repetition of a setup and returns {seconds, attack
   * seconds}; {@code afterRound} sees the finished round's index.
   */
  private static void interleave(
      double[][] total, double[][] attack, IntFunction<double[]> step, IntConsumer afterRound) {
    int k = total.length;
    for (int it = 0; it < total[0].length; it++) {
      for (int j = 0; j < k; j++) {
        int i = (j + it) % k;
        double[] t = step.apply(i);
        total[i][it] = t[0];
        attack[i][it] = t[1];
      }
      afterRound.accept(it);
    }
  }

  private static double time(Runnable r) {
    long t0 = System.nanoTime();
    r.run();
    return (System.nanoTime() - t0) / 1e9;
  }

  private void log(String fmt, Object... args) {
    if (progress != null) {
      progress.println(String.format(Locale.ROOT, fmt, args));
      progress.flush();
    }
  }
}
