package dev.arat.trainer;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.arat.attack.Classifier;
import dev.arat.attack.ImageBatch;
import dev.arat.data.Augmentation;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.ImageFolder;
import dev.arat.data.Permutations;
import dev.arat.data.Split;
import dev.arat.specs.AratVersion;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Architectures;
import dev.arat.specs.AtomicFiles;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.Specs;
import dev.arat.specs.TrainingRecipe;
import dev.arat.specs.TrainingState;
import dev.arat.trainer.nn.Sgd;
import dev.arat.trainer.nn.SplitBnNetwork;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.function.BiFunction;

/**
 * Trains a network from a {@link TrainingRecipe}: standard training, PGD-AT, TRADES or ARAT
 * (optionally with SWA), with per-epoch monitoring, {@code metrics.jsonl}, engine-neutral
 * checkpoints and exact resume.
 *
 * <p>Run folder layout: {@code recipe.yaml} (the recipe as used), {@code metrics.jsonl} (one JSON
 * object per completed epoch), {@code metrics.csv} and {@code training.png} (the same numbers as a
 * table and as curves, see {@link MetricsFiles}), {@code conflict.jsonl} (ARAT: one line per
 * gradient-conflict measurement, see below), {@code checkpoints/epoch-NNNN[-step-SSSSSS]/} ({@link
 * Checkpoint} folders, at every epoch end, every {@code checkpoint.every_steps} steps, and when
 * stopped on request) and, with {@code swa}, {@code swa/}: an ordinary checkpoint folder holding
 * the SWA model (averaged parameters under the normal names, re-estimated adversarial BN
 * statistics), written when the last epoch completes, so {@code arat export --checkpoint RUN/swa}
 * exports it. It lives outside {@code checkpoints/} on purpose: {@code Checkpoint.latest} picks the
 * lexicographically last folder there, and a {@code swa} folder would be taken for the newest
 * training state on resume.
 *
 * <p>Data: the dataset is loaded with the recipe's image-folder options ({@code image_size}, {@code
 * resize}, {@code channels}, {@code test_fraction}, split seed = {@code seed}); {@code
 * data.augmentation} (random crop with zero padding, horizontal flip; {@link Augmentation}) is
 * applied to each training batch before the attack and the clean forward, drawing from {@code new
 * SplittableRandom(mix(seed ^ 0xA06, globalStep))}, and to the auto-balance images (from {@code
 * mix(seed ^ 0xA06B, globalStep)}); test data is never augmented. {@code normalize: none} builds
 * the network with mean 0 and std 1 (the paper's raw [0,1] inputs); {@code dataset} (default) with
 * the training set's channel statistics. WRN architectures use the WideResNet init ({@link
 * SplitBnNetwork.Init#WRN}).
 *
 * <p>Gradient conflict (ARAT, {@code arat.conflict_interval} = k > 0): before the update of every
 * step whose 0-based global index is a multiple of k, {@link Objective#conflict} measures on that
 * step's batch; the line {@code {epoch, step, cosine, conflict_ratio, norm_cls, norm_inv,
 * purifying_*, contaminating_*, parameters, layers}} goes to {@code conflict.jsonl} and the epoch's
 * means ({@code grad_cosine}, {@code grad_conflict_ratio}, ...) to {@code metrics.jsonl}. The
 * measurement does not change the training computation.
 *
 * <p>Determinism: the training subset is the first {@code train_samples} of {@code
 * Permutations.of(trainSize, seed)}; epoch {@code e} visits the subset in the order {@code
 * Permutations.of(n, mix(seed, e))}; step {@code t}'s PGD seed is {@code mix(seed, t)} with the
 * dataset index as sample id; auto-balance draws its images from {@code mix(seed, t)} as well. So a
 * resumed run repeats exactly the computation of an uninterrupted one.
 *
 * <p>A step: PGD x' on the adversarial BN set in train mode with the weights frozen (its collector
 * is closed before the training step's opens), then zero the gradients, the objective's forward and
 * backward passes ({@link Objective}), then {@link Sgd}. Every step's arrays live in a sub-manager
 * closed at the end of the step. A final batch of one image is skipped (BatchNorm in train mode
 * needs two).
 *
 * <p>Stopping: {@link #requestStop()} or interrupting the training thread stops between steps; a
 * checkpoint of the progress so far is written first, so {@code resume} continues from there.
 */
public final class Trainer {
  /** Images per forward pass when measuring accuracy. */
  static final int EVAL_BATCH = 250;

  private volatile boolean stopRequested;

  /** Test hook: stop (as if requested) once this many global steps are done; -1 = never. */
  long stopAtGlobalStep = -1;

  /** Creates a trainer. */
  public Trainer() {}

  /** Asks a running {@link #train} to stop after the current step (thread-safe). */
  public void requestStop() {
    stopRequested = true;
  }

  /** Whether {@link #requestStop} was called since the current {@link #train} began. */
  boolean stopRequested() {
    return stopRequested;
  }

  /**
   * Trains (or resumes training) per {@code recipe} into {@code outDir}.
   *
   * @param recipe the recipe; on resume it may have more epochs than the interrupted run, but its
   *     method, seed, data and batch size must match the checkpoint's
   * @param outDir the run folder (created if needed)
   * @param resume continue from {@code Checkpoint.latest(outDir)}; without one it is an error
   * @param dataDirOverride folder with the dataset files, overriding {@code data.path}; null for
   *     the recipe's path or the dataset's default location
   * @param progress where progress goes (null for none): an updating line on a terminal, one line
   *     per epoch otherwise
   * @return where the run stands
   * @throws IllegalStateException on resume without a checkpoint, or a fresh run into a folder that
   *     already holds checkpoints
   * @throws IllegalArgumentException when the checkpoint does not fit the recipe
   * @throws IOException when the run folder cannot be written
   */
  public TrainingResult train(
      TrainingRecipe recipe,
      Path outDir,
      boolean resume,
      Path dataDirOverride,
      PrintStream progress)
      throws IOException {
    Objects.requireNonNull(recipe, "recipe");
    stopRequested = false;
    Files.createDirectories(outDir);
    Optional<Path> latest = Checkpoint.latest(outDir);
    Checkpoint resumeFrom = null;
    if (resume) {
      Path p =
          latest.orElseThrow(
              () ->
                  new IllegalStateException(
                      "cannot resume: no checkpoint in "
                          + outDir.resolve("checkpoints")
                          + " (start the run without resume)"));
      resumeFrom = Checkpoint.read(p);
      checkCompatible(recipe, resumeFrom.recipe(), p);
    } else if (latest.isPresent()) {
      throw new IllegalStateException(
          outDir
              + " already holds checkpoints ("
              + latest.get().getFileName()
              + "); resume the run or choose an empty folder");
    }

    // the devices first: a GPU request that cannot be met fails before any data is read
    List<ai.djl.Device> devices = Devices.resolveAll(recipe.device());
    ai.djl.Device device = devices.get(0);
    long seed = recipe.seed();
    Path dataDir =
        dataDirOverride != null
            ? dataDirOverride
            : recipe.data().path() != null ? Path.of(recipe.data().path()) : null;
    ImageFolder.Options folder = folderOptions(recipe);
    ImageDataset fullTrain = Datasets.load(recipe.data().dataset(), dataDir, Split.TRAIN, folder);
    ImageDataset test = Datasets.load(recipe.data().dataset(), dataDir, Split.TEST, folder);
    int[] trainIdx = Permutations.firstOf(fullTrain.size(), recipe.data().trainSamples(), seed);
    ImageDataset train = fullTrain.subset(trainIdx);
    ArchitectureSpec arch = architecture(recipe, train);
    int[] evalIdx =
        Permutations.firstOf(
            test.size(), Math.min(recipe.evaluation().samples(), test.size()), seed);
    if (recipe.evaluation().samples() == 0) {
      evalIdx = new int[0];
    }
    Map<String, String> provenance = provenance(recipe, fullTrain, test);

    Engine engine = Engine.getInstance();
    if (!"PyTorch".equals(engine.getEngineName())) {
      throw new IllegalStateException(
          "the trainer needs DJL's PyTorch engine, found "
              + engine.getEngineName()
              + " (set DJL_DEFAULT_ENGINE=PyTorch; check the classpath)");
    }
    provenance.put("device", devices.size() == 1 ? device.toString() : devices.toString());
    provenance.put("replicas", String.valueOf(devices.size()));
    if (resumeFrom != null && progress != null) {
      String was = resumeFrom.state().provenance().getOrDefault("replicas", "1");
      if (!was.equals(String.valueOf(devices.size()))) {
        progress.println(
            "warning: resuming with "
                + devices.size()
                + " data-parallel replica(s) "
                + "where the checkpoint was written with "
                + was
                + "; BatchNorm normalises each "
                + "replica's shard on its own, so the run continues, but not as an uninterrupted run "
                + "with "
                + was
                + " would");
      }
    }
    try (NDManager root = Devices.newManager(device);
        SplitBnNetwork net = newNetwork(recipe, arch, root)) {
      TrainingRecipe.Optimizer o = recipe.optimizer();
      Sgd sgd = new Sgd(net, o.momentum(), o.weightDecay(), o.nesterov());
      TrainingRun run =
          new TrainingRun(
              this,
              recipe,
              arch,
              net,
              sgd,
              outDir,
              train,
              trainIdx,
              test,
              evalIdx,
              provenance,
              progress);
      try (DataParallel parallel =
          devices.size() > 1 ? new DataParallel(recipe, arch, net, run.objective, devices) : null) {
        run.parallel = parallel;
        return startRun(run, resumeFrom, latest, outDir);
      }
    }
  }

  /** Restores a checkpoint into the run (or clears a fresh run's files) and runs the loop. */
  private static TrainingResult startRun(
      TrainingRun run, Checkpoint resumeFrom, Optional<Path> latest, Path outDir)
      throws IOException {
    Path metrics = outDir.resolve("metrics.jsonl");
    if (resumeFrom != null) {
      if (!Specs.toJson(resumeFrom.architecture()).equals(Specs.toJson(run.arch))) {
        throw new IllegalArgumentException(
            "cannot resume: the checkpoint's architecture differs "
                + "from the one this recipe and data give");
      }
      run.net.load(resumeFrom.weights());
      run.sgd.load(SwaAverage.withoutSwa(resumeFrom.optimizer()));
      if (run.parallel != null) {
        run.parallel.broadcast();
      }
      TrainingState s = resumeFrom.state();
      if (run.swa != null) {
        run.swa.load(resumeFrom.optimizer(), s.swaSnapshots());
      }
      run.epochDone = s.epoch();
      run.stepInEpoch = s.stepInEpoch();
      run.globalStep = s.globalStep();
      run.balance = s.balanceAccuracy();
      run.imagesSinceBalance = s.imagesSinceBalance();
      run.lastCheckpoint = latest.get();
      run.lastCheckpointStep = s.globalStep();
      MetricsFiles.keepLines(
          metrics, node -> node.has("epoch") && node.get("epoch").asInt() <= s.epoch());
      new ConflictLog(outDir).keepBefore(s.globalStep());
    } else {
      Files.deleteIfExists(metrics);
      Files.deleteIfExists(outDir.resolve(CONFLICT_FILE));
    }
    AtomicFiles.writeString(outDir.resolve("recipe.yaml"), Specs.toYaml(run.recipe));
    return run.loop();
  }

  /** File name of the gradient-conflict log in a run folder. */
  public static final String CONFLICT_FILE = "conflict.jsonl";

  /**
   * Builds the architecture of a recipe for a training set: with {@code normalize: dataset} the
   * network normalises by the training set's channel mean and std, with {@code none} by 0 and 1.
   */
  public static ArchitectureSpec architecture(TrainingRecipe recipe, ImageDataset train) {
    float[] mean = train.channelMean();
    float[] std = train.channelStd();
    if ("none".equals(recipe.normalize())) {
      mean = new float[train.channels()];
      std = new float[train.channels()];
      Arrays.fill(std, 1f);
    }
    return Architectures.named(
        recipe.architecture(),
        train.channels(),
        train.height(),
        train.width(),
        train.numClasses(),
        mean,
        std);
  }

  /** The image-folder options of a recipe's data section (split seed = the recipe's seed). */
  public static ImageFolder.Options folderOptions(TrainingRecipe recipe) {
    TrainingRecipe.Data d = recipe.data();
    return new ImageFolder.Options(
        d.imageSize(),
        "resize".equals(d.resize()) ? ImageFolder.Resize.RESIZE : ImageFolder.Resize.CENTER_CROP,
        d.channels(),
        d.testFraction(),
        recipe.seed());
  }

  /** The training-time augmentation of a recipe. */
  public static Augmentation augmentation(TrainingRecipe recipe) {
    TrainingRecipe.Augment a = recipe.data().augmentation();
    return new Augmentation(a.randomCropPadding(), a.horizontalFlip());
  }

  /**
   * Builds the network a recipe trains: split-BN and predictors for ARAT per its switches; the
   * WideResNet init for {@code wrn-*} architectures.
   */
  public static SplitBnNetwork newNetwork(
      TrainingRecipe recipe, ArchitectureSpec arch, NDManager parent) {
    boolean arat = "arat".equals(recipe.method());
    List<String> taps =
        !arat ? List.of() : recipe.arat().taps() != null ? recipe.arat().taps() : arch.taps();
    boolean split = arat && recipe.arat().splitBn();
    double ratio = arat && recipe.arat().predictor() ? recipe.arat().predictorRatio() : 0;
    return new SplitBnNetwork(
        arch,
        split,
        taps,
        ratio,
        recipe.seed(),
        parent,
        SplitBnNetwork.Init.forArchitecture(recipe.architecture()));
  }

  private static void checkCompatible(TrainingRecipe now, TrainingRecipe then, Path ckpt) {
    List<String> diffs = new ArrayList<>();
    if (!now.method().equals(then.method())) {
      diffs.add("method " + then.method() + " -> " + now.method());
    }
    if (!now.seed().equals(then.seed())) {
      diffs.add("seed " + then.seed() + " -> " + now.seed());
    }
    if (!now.data().dataset().equals(then.data().dataset())
        || !now.data().trainSamples().equals(then.data().trainSamples())) {
      diffs.add("data");
    }
    if (!now.batchSize().equals(then.batchSize())) {
      diffs.add("batch_size " + then.batchSize() + " -> " + now.batchSize());
    }
    if (!now.architecture().equals(then.architecture())) {
      diffs.add("architecture");
    }
    if (!diffs.isEmpty()) {
      throw new IllegalArgumentException(
          "cannot resume " + ckpt + " with this recipe: " + String.join(", ", diffs));
    }
  }

  private static Map<String, String> provenance(
      TrainingRecipe recipe, ImageDataset train, ImageDataset test) {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("tool", "arat-trainer");
    p.put("tool_version", AratVersion.VERSION);
    p.put("djl_version", Engine.getDjlVersion());
    Engine e = Engine.getInstance();
    p.put("engine", e.getEngineName());
    p.put("pytorch_version", e.getVersion());
    p.put("dataset", recipe.data().dataset());
    p.put("dataset_sha256", train.sha256());
    p.put("test_dataset_sha256", test.sha256());
    p.put("train_samples", Integer.toString(recipe.data().trainSamples()));
    p.put("seed", Long.toString(recipe.seed()));
    p.put("method", recipe.method());
    p.put("architecture", recipe.architecture());
    p.put("normalize", recipe.normalize());
    p.put(
        "init",
        SplitBnNetwork.Init.forArchitecture(recipe.architecture()).name().toLowerCase(Locale.ROOT));
    TrainingRecipe.Augment aug = recipe.data().augmentation();
    p.put(
        "augmentation",
        aug.enabled()
            ? "random_crop_padding="
                + aug.randomCropPadding()
                + ",horizontal_flip="
                + aug.horizontalFlip()
            : "none");
    if ("trades".equals(recipe.method())) {
      p.put("attack_model_mode", "train mode (batch statistics), weights frozen");
      p.put("attack_loss", "KL(f(x) || f(x')) (TRADES), beta " + recipe.trades().beta());
      p.put("attack_start", "x + 0.001*N(0,1) around the untouched clean input (TRADES)");
    } else if (!"standard".equals(recipe.method())) {
      p.put("attack_model_mode", "adv BN set, train mode (batch statistics), weights frozen");
      p.put(
          "attack_start",
          "random start around the untouched clean input " + "(ARAT-METHOD P1 not reproduced)");
    }
    return p;
  }

  /** Resident memory of this process in MB, from /proc/self/status (-1 where unavailable). */
  static double rssMb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          String[] parts = line.trim().split("\\s+");
          return Long.parseLong(parts[1]) / 1024.0;
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return -1;
  }

  /**
   * Accuracy of a classifier on images of a dataset, in batches.
   *
   * @param model the classifier (its mode is its own)
   * @param data the dataset
   * @param idx the image indices
   * @return fraction correct in {@code [0,1]} (NaN for no images)
   */
  static double accuracy(Classifier model, ImageDataset data, int[] idx) {
    return accuracy(
        model,
        data.gatherLabels(idx),
        (from, to) -> batch(data, Arrays.copyOfRange(idx, from, to)));
  }

  /**
   * Accuracy of a classifier on {@code labels.length} images, classified in batches of {@value
   * #EVAL_BATCH}.
   *
   * @param labels the true class of each image
   * @param images the images {@code [from, to)} as one batch
   * @return fraction correct in {@code [0,1]} (NaN for no images)
   */
  static double accuracy(
      Classifier model, int[] labels, BiFunction<Integer, Integer, ImageBatch> images) {
    if (labels.length == 0) {
      return Double.NaN;
    }
    int correct = 0;
    for (int from = 0; from < labels.length; from += EVAL_BATCH) {
      int to = Math.min(labels.length, from + EVAL_BATCH);
      int[] pred = Classifier.argmax(model.logits(images.apply(from, to)), model.numClasses());
      for (int i = 0; i < to - from; i++) {
        correct += pred[i] == labels[from + i] ? 1 : 0;
      }
    }
    return correct / (double) labels.length;
  }

  /**
   * Augments a batch with a generator seeded by {@code rngSeed} (the batch itself without
   * augmentation).
   */
  static ImageBatch augment(Augmentation aug, ImageBatch x, long rngSeed) {
    if (aug.isIdentity()) {
      return x;
    }
    return x.with(aug.apply(x.data(), x.n(), x.c(), x.h(), x.w(), new SplittableRandom(rngSeed)));
  }

  static ImageBatch batch(ImageDataset data, int[] idx) {
    return new ImageBatch(
        data.gatherPixels(idx), idx.length, data.channels(), data.height(), data.width());
  }

  /** Steps per epoch: ceil(n / batch), minus a final batch of one image. */
  static int stepsPerEpoch(int n, int batchSize) {
    return n / batchSize + (n % batchSize >= 2 ? 1 : 0);
  }
}
