package dev.arat.trainer;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.attack.AttackResult;
import dev.arat.attack.Classifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.Pgd;
import dev.arat.attack.Seeds;
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
import dev.arat.specs.LossHead;
import dev.arat.specs.Specs;
import dev.arat.specs.TrainingRecipe;
import dev.arat.specs.TrainingState;
import dev.arat.trainer.nn.NetworkClassifier;
import dev.arat.trainer.nn.Sgd;
import dev.arat.trainer.nn.SplitBnNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.SplittableRandom;

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
 * stopped on request) and, with {@code swa}, {@code swa/}: an ordinary checkpoint folder holding the
 * SWA model (averaged parameters under the normal names, re-estimated adversarial BN statistics),
 * written when the last epoch completes, so {@code arat export --checkpoint RUN/swa} exports it.
 * It lives outside {@code checkpoints/} on purpose: {@code Checkpoint.latest} picks the
 * lexicographically last folder there, and a {@code swa} folder would be taken for the newest
 * training state on resume.
 *
 * <p>Data: the dataset is loaded with the recipe's image-folder options ({@code image_size},
 * {@code resize}, {@code channels}, {@code test_fraction}, split seed = {@code seed}); {@code
 * data.augmentation} (random crop with zero padding, horizontal flip; {@link Augmentation}) is
 * applied to each training batch before the attack and the clean forward, drawing from {@code new
 * SplittableRandom(mix(seed ^ 0xA06, globalStep))}, and to the auto-balance images (from {@code
 * mix(seed ^ 0xA06B, globalStep)}); test data is never augmented. {@code normalize: none} builds the
 * network with mean 0 and std 1 (the paper's raw [0,1] inputs); {@code dataset} (default) with the
 * training set's channel statistics. WRN architectures use the WideResNet init ({@link
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
 * <p>A step: PGD x' on the adversarial BN set in train mode with the weights frozen (its
 * collector is closed before the training step's opens), then zero the gradients, the objective's
 * forward and backward passes ({@link Objective}), then {@link Sgd}. Every step's arrays live in a
 * sub-manager closed at the end of the step. A final batch of one image is skipped (BatchNorm in
 * train mode needs two).
 *
 * <p>Stopping: {@link #requestStop()} or interrupting the training thread stops between steps;
 * a checkpoint of the progress so far is written first, so {@code resume} continues from there.
 */
public final class Trainer {
  private static final int EVAL_BATCH = 250;

  private volatile boolean stopRequested;
  /** Test hook: stop (as if requested) once this many global steps are done; -1 = never. */
  long stopAtGlobalStep = -1;

  /** Creates a trainer. */
  public Trainer() {}

  /** Asks a running {@link #train} to stop after the current step (thread-safe). */
  public void requestStop() {
    stopRequested = true;
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
   * @throws IllegalStateException on resume without a checkpoint, or a fresh run into a folder
   *     that already holds checkpoints
   * @throws IllegalArgumentException when the checkpoint does not fit the recipe
   * @throws IOException when the run folder cannot be written
   */
  public TrainingResult train(
      TrainingRecipe recipe, Path outDir, boolean resume, Path dataDirOverride, PrintStream progress)
      throws IOException {
    Objects.requireNonNull(recipe, "recipe");
    stopRequested = false;
    Files.createDirectories(outDir);
    Optional<Path> latest = Checkpoint.latest(outDir);
    Checkpoint resumeFrom = null;
    if (resume) {
      Path p = latest.orElseThrow(() -> new IllegalStateException("cannot resume: no checkpoint in "
          + outDir.resolve("checkpoints") + " (start the run without resume)"));
      resumeFrom = Checkpoint.read(p);
      checkCompatible(recipe, resumeFrom.recipe(), p);
    } else if (latest.isPresent()) {
      throw new IllegalStateException(outDir + " already holds checkpoints (" + latest.get()
          .getFileName() + "); resume the run or choose an empty folder");
    }

    // the devices first: a GPU request that cannot be met fails before any data is read
    List<ai.djl.Device> devices = Devices.resolveAll(recipe.device());
    ai.djl.Device device = devices.get(0);
    long seed = recipe.seed();
    Path dataDir = dataDirOverride != null ? dataDirOverride
        : recipe.data().path() != null ? Path.of(recipe.data().path()) : null;
    ImageFolder.Options folder = folderOptions(recipe);
    ImageDataset fullTrain = Datasets.load(recipe.data().dataset(), dataDir, Split.TRAIN, folder);
    ImageDataset test = Datasets.load(recipe.data().dataset(), dataDir, Split.TEST, folder);
    int[] trainIdx = Permutations.firstOf(fullTrain.size(), recipe.data().trainSamples(), seed);
    ImageDataset train = fullTrain.subset(trainIdx);
    ArchitectureSpec arch = architecture(recipe, train);
    int[] evalIdx = Permutations.firstOf(test.size(),
        Math.min(recipe.evaluation().samples(), test.size()), seed);
    if (recipe.evaluation().samples() == 0) {
      evalIdx = new int[0];
    }
    Map<String, String> provenance = provenance(recipe, fullTrain, test);

    Engine engine = Engine.getInstance();
    if (!"PyTorch".equals(engine.getEngineName())) {
      throw new IllegalStateException("the trainer needs DJL's PyTorch engine, found "
          + engine.getEngineName() + " (set DJL_DEFAULT_ENGINE=PyTorch; check the classpath)");
    }
    provenance.put("device", devices.size() == 1 ? device.toString() : devices.toString());
    provenance.put("replicas", String.valueOf(devices.size()));
    if (resumeFrom != null && progress != null) {
      String was = resumeFrom.state().provenance().getOrDefault("replicas", "1");
      if (!was.equals(String.valueOf(devices.size()))) {
        progress.println("warning: resuming with " + devices.size() + " data-parallel replica(s) "
            + "where the checkpoint was written with " + was + "; BatchNorm normalises each "
            + "replica's shard on its own, so the run continues, but not as an uninterrupted run "
            + "with " + was + " would");
      }
    }
    try (NDManager root = Devices.newManager(device);
        SplitBnNetwork net = newNetwork(recipe, arch, root)) {
      TrainingRecipe.Optimizer o = recipe.optimizer();
      Sgd sgd = new Sgd(net, o.momentum(), o.weightDecay(), o.nesterov());
      Run run = new Run(recipe, arch, net, sgd, outDir, train, trainIdx, test, evalIdx, provenance,
          progress);
      try (DataParallel parallel = devices.size() > 1
          ? new DataParallel(recipe, arch, net, run.objective, devices) : null) {
        run.parallel = parallel;
        return startRun(run, resumeFrom, latest, outDir);
      }
    }
  }

  /** Restores a checkpoint into the run (or clears a fresh run's files) and runs the loop. */
  private static TrainingResult startRun(Run run, Checkpoint resumeFrom, Optional<Path> latest,
      Path outDir) throws IOException {
    Path metrics = outDir.resolve("metrics.jsonl");
    if (resumeFrom != null) {
      if (!Specs.toJson(resumeFrom.architecture()).equals(Specs.toJson(run.arch))) {
        throw new IllegalArgumentException("cannot resume: the checkpoint's architecture differs "
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
      keepMetricsUpTo(metrics, s.epoch());
      keepConflictBefore(outDir.resolve(CONFLICT_FILE), s.globalStep());
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
      java.util.Arrays.fill(std, 1f);
    }
    return Architectures.named(recipe.architecture(), train.channels(), train.height(),
        train.width(), train.numClasses(), mean, std);
  }

  /** The image-folder options of a recipe's data section (split seed = the recipe's seed). */
  public static ImageFolder.Options folderOptions(TrainingRecipe recipe) {
    TrainingRecipe.Data d = recipe.data();
    return new ImageFolder.Options(d.imageSize(), "resize".equals(d.resize())
        ? ImageFolder.Resize.RESIZE : ImageFolder.Resize.CENTER_CROP, d.channels(),
        d.testFraction(), recipe.seed());
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
    List<String> taps = !arat ? List.of()
        : recipe.arat().taps() != null ? recipe.arat().taps() : arch.taps();
    boolean split = arat && recipe.arat().splitBn();
    double ratio = arat && recipe.arat().predictor() ? recipe.arat().predictorRatio() : 0;
    return new SplitBnNetwork(arch, split, taps, ratio, recipe.seed(), parent,
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
      throw new IllegalArgumentException("cannot resume " + ckpt + " with this recipe: "
          + String.join(", ", diffs));
    }
  }

  /** Rewrites metrics.jsonl keeping only the lines of epochs {@code <= epoch}. */
  private static void keepMetricsUpTo(Path metrics, int epoch) throws IOException {
    if (!Files.exists(metrics)) {
      return;
    }
    StringBuilder kept = new StringBuilder();
    for (String line : Files.readAllLines(metrics, StandardCharsets.UTF_8)) {
      if (line.isBlank()) {
        continue;
      }
      try {
        JsonNode node = Specs.json().readTree(line);
        if (node.has("epoch") && node.get("epoch").asInt() <= epoch) {
          kept.append(line).append('\n');
        }
      } catch (IOException e) {
        // a torn last line from a killed run: drop it
      }
    }
    AtomicFiles.writeString(metrics, kept.toString());
  }

  /** Rewrites conflict.jsonl keeping only measurements taken before global step {@code step}. */
  private static void keepConflictBefore(Path file, long step) throws IOException {
    if (!Files.exists(file)) {
      return;
    }
    StringBuilder kept = new StringBuilder();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (line.isBlank()) {
        continue;
      }
      try {
        JsonNode node = Specs.json().readTree(line);
        if (node.has("step") && node.get("step").asLong() < step) {
          kept.append(line).append('\n');
        }
      } catch (IOException e) {
        // torn last line
      }
    }
    AtomicFiles.writeString(file, kept.toString());
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
    p.put("init", SplitBnNetwork.Init.forArchitecture(recipe.architecture()).name().toLowerCase(
        Locale.ROOT));
    TrainingRecipe.Augment aug = recipe.data().augmentation();
    p.put("augmentation", aug.enabled() ? "random_crop_padding=" + aug.randomCropPadding()
        + ",horizontal_flip=" + aug.horizontalFlip() : "none");
    if ("trades".equals(recipe.method())) {
      p.put("attack_model_mode", "train mode (batch statistics), weights frozen");
      p.put("attack_loss", "KL(f(x) || f(x')) (TRADES), beta " + recipe.trades().beta());
      p.put("attack_start", "x + 0.001*N(0,1) around the untouched clean input (TRADES)");
    } else if (!"standard".equals(recipe.method())) {
      p.put("attack_model_mode", "adv BN set, train mode (batch statistics), weights frozen");
      p.put("attack_start", "random start around the untouched clean input "
          + "(ARAT-METHOD P1 not reproduced)");
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
    if (idx.length == 0) {
      return Double.NaN;
    }
    int correct = 0;
    for (int from = 0; from < idx.length; from += EVAL_BATCH) {
      int[] part = java.util.Arrays.copyOfRange(idx, from, Math.min(idx.length, from + EVAL_BATCH));
      ImageBatch b = batch(data, part);
      int[] pred = Classifier.argmax(model.logits(b), model.numClasses());
      int[] y = data.gatherLabels(part);
      for (int i = 0; i < part.length; i++) {
        correct += pred[i] == y[i] ? 1 : 0;
      }
    }
    return correct / (double) idx.length;
  }

  static ImageBatch batch(ImageDataset data, int[] idx) {
    return new ImageBatch(data.gatherPixels(idx), idx.length, data.channels(), data.height(),
        data.width());
  }

  /** Steps per epoch: ceil(n / batch), minus a final batch of one image. */
  static int stepsPerEpoch(int n, int batchSize) {
    return n / batchSize + (n % batchSize >= 2 ? 1 : 0);
  }

  /** The mutable state of one call of {@link #train}. */
  private final class Run {
    final TrainingRecipe recipe;
    final ArchitectureSpec arch;
    final SplitBnNetwork net;
    final Sgd sgd;
    final Path outDir;
    final ImageDataset train;
    final int[] trainIds;
    final ImageDataset test;
    final int[] evalIdx;
    final Map<String, String> provenance;
    final PrintStream progress;
    final Objective objective;
    final boolean arat;
    final boolean trades;
    final boolean autoBalance;
    final Augmentation aug;
    final SwaAverage swa;
    final int conflictInterval;
    /** The replicas when the recipe names several devices, else null. */
    DataParallel parallel;

    int epochDone;
    int stepInEpoch;
    long globalStep;
    double balance = -1;
    long imagesSinceBalance;
    Path lastCheckpoint;
    long lastCheckpointStep = -1;
    Map<String, Object> lastMetrics = Map.of();

    Run(TrainingRecipe recipe, ArchitectureSpec arch, SplitBnNetwork net, Sgd sgd, Path outDir,
        ImageDataset train, int[] trainIds, ImageDataset test, int[] evalIdx,
        Map<String, String> provenance, PrintStream progress) {
      this.recipe = recipe;
      this.arch = arch;
      this.net = net;
      this.sgd = sgd;
      this.outDir = outDir;
      this.train = train;
      this.trainIds = trainIds;
      this.test = test;
      this.evalIdx = evalIdx;
      this.provenance = provenance;
      this.progress = progress;
      this.objective = new Objective(recipe, net);
      this.arat = "arat".equals(recipe.method());
      this.trades = "trades".equals(recipe.method());
      this.autoBalance = arat && recipe.arat().autoBalance();
      this.aug = augmentation(recipe);
      this.swa = recipe.swa() != null ? new SwaAverage(net) : null;
      this.conflictInterval = arat && !net.taps().isEmpty() && recipe.arat().gamma() > 0
          ? recipe.arat().conflictInterval() : 0;
    }

    TrainingResult loop() throws IOException {
      int n = train.size();
      int bs = recipe.batchSize();
      int steps = stepsPerEpoch(n, bs);
      if (steps == 0) {
        throw new IllegalArgumentException("the training set has " + n + " images: too few for "
            + "one step");
      }
      int epochs = recipe.epochs();
      long seed = recipe.seed();
      boolean console = System.console() != null && progress != null;
      long runStartNanos = System.nanoTime();
      long stepsThisCall = 0;
      for (int epoch = epochDone + 1; epoch <= epochs; epoch++) {
        long epochStart = System.nanoTime();
        int[] order = Permutations.of(n, Seeds.mix(seed, epoch));
        int startStep = stepInEpoch;
        if (autoBalance && (startStep == 0 || balance < 0)) {
          measureBalance();
        }
        Meter m = new Meter();
        double lr = Double.NaN;
        for (int s = startStep; s < steps; s++) {
          if (Thread.interrupted() || stopRequested
              || (stopAtGlobalStep >= 0 && globalStep >= stopAtGlobalStep)) {
            stopRequested = true;
            if (lastCheckpointStep != globalStep) {
              checkpoint(epoch - 1, s);
            }
            if (console) {
              progress.println();
            }
            if (progress != null) {
              progress.println("stopped at epoch " + epoch + " step " + s + "/" + steps
                  + "; checkpoint " + lastCheckpoint);
            }
            return result(true);
          }
          if (autoBalance && recipe.arat().balanceInterval() > 0
              && imagesSinceBalance >= recipe.arat().balanceInterval()) {
            measureBalance();
          }
          int from = s * bs;
          int to = Math.min(n, from + bs);
          int[] rows = java.util.Arrays.copyOfRange(order, from, to);
          lr = recipe.schedule().at(recipe.optimizer().lr(), (epoch - 1) + s / (double) steps,
              epochs);
          double wAdv = autoBalance ? balance : 1.0;
          double wClean = autoBalance ? 1.0 - balance : 1.0;
          Objective.StepLoss loss = step(rows, lr, wAdv, wClean, epoch, m);
          if (!Double.isFinite(loss.total())) {
            throw new IllegalStateException("loss is " + loss.total() + " at epoch " + epoch
                + " step " + s + " (lr " + lr + "); lower the learning rate");
          }
          globalStep++;
          stepsThisCall++;
          stepInEpoch = s + 1;
          imagesSinceBalance += rows.length;
          m.add(loss, wAdv, wClean);
          if (swa != null && epoch >= recipe.swa().startEpoch()
              && globalStep % recipe.swa().everySteps() == 0) {
            long t0 = System.nanoTime();
            swa.update(net);
            m.swaSeconds += (System.nanoTime() - t0) / 1e9;
          }
          if (console) {
            double perStep = (System.nanoTime() - runStartNanos) / 1e9 / stepsThisCall;
            long remaining = (long) (epochs - epoch) * steps + (steps - s - 1);
            progress.printf(Locale.ROOT, "\repoch %d/%d  step %d/%d  %.0f img/s  ETA %s  loss %.4f ",
                epoch, epochs, s + 1, steps, m.images / m.seconds(epochStart), eta(perStep
                    * remaining), m.total / m.steps);
            progress.flush();
          }
          int every = recipe.checkpoint().everySteps();
          if (every > 0 && globalStep % every == 0 && s + 1 < steps) {
            checkpoint(epoch - 1, s + 1);
          }
        }
        double trainSeconds = m.seconds(epochStart);
        long evalStart = System.nanoTime();
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("epoch", epoch);
        line.put("epochs", epochs);
        line.put("global_step", globalStep);
        line.put("method", recipe.method());
        line.put("lr", num(lr));
        line.put("loss", num(m.total / m.steps));
        line.put("loss_ce_adv", num(m.ceAdv / m.steps));
        line.put("loss_ce_clean", num(arat || trades ? m.ceClean / m.steps : Double.NaN));
        line.put("loss_inv", num(arat || trades ? m.inv / m.steps : Double.NaN));
        line.put("w_adv", num(m.wAdv));
        line.put("w_clean", num(m.wClean));
        line.put("balance_accuracy", num(autoBalance ? balance : Double.NaN));
        line.put("train_accuracy", num(m.correct / (double) m.images));
        line.put("train_accuracy_clean_bn", num(arat || trades
            ? m.correctClean / (double) m.images : Double.NaN));
        line.put("train_images", m.images);
        line.put("resumed_at_step", startStep);
        if (conflictInterval > 0) {
          conflictMeans(epoch, line);
          line.put("conflict_seconds", num(m.conflictSeconds));
        }
        if (swa != null) {
          line.put("swa_snapshots", swa.snapshots());
        }
        evaluate(epoch, epochs, line);
        line.put("images_per_second", num(m.images / trainSeconds));
        line.put("train_seconds", num(trainSeconds));
        line.put("eval_seconds", num((System.nanoTime() - evalStart) / 1e9));
        line.put("epoch_seconds", num((System.nanoTime() - epochStart) / 1e9));
        line.put("rss_mb", num(rssMb()));
        Runtime rt = Runtime.getRuntime();
        line.put("java_heap_committed_mb", num(rt.totalMemory() / 1048576.0));
        line.put("java_heap_used_mb", num((rt.totalMemory() - rt.freeMemory()) / 1048576.0));
        epochDone = epoch;
        stepInEpoch = 0;
        Files.writeString(outDir.resolve("metrics.jsonl"), Specs.json().writer()
            .without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
            .writeValueAsString(line)
            + "\n", StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
            java.nio.file.StandardOpenOption.APPEND);
        checkpoint(epoch, 0);
        lastMetrics = line;
        MetricsFiles.writeCsv(outDir);
        MetricsFiles.writePlot(outDir);
        if (progress != null) {
          if (console) {
            progress.println();
          }
          progress.println(summary(line));
        }
      }
      if (swa != null && epochDone == epochs) {
        writeSwa();
      }
      return result(false);
    }

    private TrainingResult result(boolean interrupted) {
      return new TrainingResult(outDir, lastCheckpoint, epochDone, globalStep, interrupted,
          lastMetrics, swaDir);
    }

    Path swaDir;

    /** Re-estimates the SWA model's adversarial BN statistics and writes {@code RUN/swa}. */
    private void writeSwa() throws IOException {
      if (swa.snapshots() == 0) {
        if (progress != null) {
          progress.println("swa: no snapshot was taken (start_epoch " + recipe.swa().startEpoch()
              + ", every_steps " + recipe.swa().everySteps() + "); no SWA model written");
        }
        return;
      }
      long t0 = System.nanoTime();
      int n = train.size();
      int bs = recipe.batchSize();
      int steps = stepsPerEpoch(n, bs);
      int batches = recipe.swa().bnBatches() > 0 ? Math.min(steps, recipe.swa().bnBatches())
          : steps;
      long seed = recipe.seed();
      int[] order = Permutations.of(n, Seeds.mix(seed ^ 0x5A4L, globalStep));
      Map<String, dev.arat.specs.Tensor> weights = swa.recalibratedWeights(net, recipe,
          net.manager(), batches, b -> {
            int[] rows = java.util.Arrays.copyOfRange(order, b * bs, Math.min(n, b * bs + bs));
            ImageBatch x = augment(batch(train, rows),
                Seeds.mix(seed ^ 0x5A4A06L, b));
            long[] ids = new long[rows.length];
            for (int i = 0; i < rows.length; i++) {
              ids[i] = trainIds[rows[i]];
            }
            return new SwaAverage.Batch(x, train.gatherLabels(rows), ids);
          }, b -> Seeds.mix(seed ^ 0x5A4A77L, b));
      Map<String, String> prov = new LinkedHashMap<>(provenance);
      prov.put("model", "swa");
      prov.put("swa_snapshots", Integer.toString(swa.snapshots()));
      prov.put("swa_bn_batches", Integer.toString(batches));
      prov.put("swa_bn", "adv BN statistics re-estimated with PGD examples against the SWA model "
          + "(train mode, cumulative average); clean BN statistics reset");
      TrainingState state = new TrainingState(epochDone, 0, globalStep, balance,
          imagesSinceBalance, prov, swa.snapshots());
      swaDir = outDir.resolve("swa");
      new Checkpoint(arch, recipe, weights, Map.of(), state).write(swaDir);
      if (progress != null) {
        progress.printf(Locale.ROOT, "swa: %d snapshots, BN re-estimated on %d batches in %.1f s;"
            + " SWA model in %s%n", swa.snapshots(), batches, (System.nanoTime() - t0) / 1e9,
            swaDir);
      }
    }

    /** Augments a batch with a generator seeded by {@code rngSeed} (identity without augmentation). */
    private ImageBatch augment(ImageBatch x, long rngSeed) {
      if (aug.isIdentity()) {
        return x;
      }
      return x.with(aug.apply(x.data(), x.n(), x.c(), x.h(), x.w(),
          new SplittableRandom(rngSeed)));
    }

    /** Appends one conflict.jsonl line. */
    private void logConflict(int epoch, Objective.Conflict c) throws IOException {
      Map<String, Object> l = new LinkedHashMap<>();
      l.put("epoch", epoch);
      l.put("step", globalStep);
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
      c.layers().forEach((k, v) -> {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("cosine", num(v.cosine()));
        e.put("conflict_ratio", num(v.conflictRatio()));
        e.put("norm_cls", num(v.normCls()));
        e.put("norm_inv", num(v.normInv()));
        layers.put(k, e);
      });
      l.put("layers", layers);
      Files.writeString(outDir.resolve(CONFLICT_FILE), Specs.json().writer()
          .without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
          .writeValueAsString(l) + "\n", StandardCharsets.UTF_8,
          java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    }

    /** The means of this epoch's conflict.jsonl lines, into the metrics line. */
    private void conflictMeans(int epoch, Map<String, Object> line) throws IOException {
      String[] keys = {"cosine", "conflict_ratio", "norm_cls", "norm_inv", "purifying_cosine",
          "purifying_conflict_ratio", "contaminating_cosine", "contaminating_conflict_ratio"};
      double[] sum = new double[keys.length];
      int[] cnt = new int[keys.length];
      int lines = 0;
      for (JsonNode node : MetricsFiles.read(outDir.resolve(CONFLICT_FILE))) {
        if (node.path("epoch").asInt() != epoch) {
          continue;
        }
        lines++;
        for (int i = 0; i < keys.length; i++) {
          JsonNode v = node.get(keys[i]);
          if (v != null && v.isNumber()) {
            sum[i] += v.asDouble();
            cnt[i]++;
          }
        }
      }
      line.put("conflict_measurements", lines);
      for (int i = 0; i < keys.length; i++) {
        line.put("grad_" + keys[i], num(cnt[i] > 0 ? sum[i] / cnt[i] : Double.NaN));
      }
    }

    private Objective.StepLoss step(int[] rows, double lr, double wAdv, double wClean, int epoch,
        Meter m) throws IOException {
      ImageBatch x = augment(batch(train, rows), Seeds.mix(recipe.seed() ^ 0xA06L, globalStep));
      int[] labels = train.gatherLabels(rows);
      long[] ids = new long[rows.length];
      for (int i = 0; i < rows.length; i++) {
        ids[i] = trainIds[rows[i]];
      }
      long attackSeed = Seeds.mix(recipe.seed(), globalStep);
      ImageBatch adv = parallel != null ? parallel.adversarial(x, labels, ids, attackSeed)
          : objective.adversarial(x, labels, ids, attackSeed);
      if (conflictInterval > 0 && globalStep % conflictInterval == 0) {
        long t0 = System.nanoTime();
        Objective.Conflict c = objective.conflict(x, adv, labels, wAdv, wClean);
        if (c != null) {
          logConflict(epoch, c);
        }
        m.conflictSeconds += (System.nanoTime() - t0) / 1e9;
      }
      if (parallel != null) {
        return parallel.step(x, adv, labels, wAdv, wClean, sgd, lr);
      }
      try (NDManager step = net.manager().newSubManager()) {
        Objective.StepLoss loss = objective.backward(step, x, adv, labels, wAdv, wClean,
            Objective.allTerms());
        sgd.step(lr, step);
        return loss;
      }
    }

    private void measureBalance() {
      int k = Math.min(recipe.arat().balanceSamples(), train.size());
      int[] idx = Permutations.firstOf(train.size(), k, Seeds.mix(recipe.seed() ^ 0xBA1A5CEL,
          globalStep));
      NetworkClassifier clean = new NetworkClassifier(net, Branch.CLEAN, false);
      if (aug.isIdentity()) {
        balance = accuracy(clean, train, idx);
      } else {
        // the paper measures on augmented training batches (P5)
        ImageBatch all = augment(batch(train, idx), Seeds.mix(recipe.seed() ^ 0xA06BL, globalStep));
        int[] y = train.gatherLabels(idx);
        int correct = 0;
        for (int from = 0; from < idx.length; from += EVAL_BATCH) {
          int to = Math.min(idx.length, from + EVAL_BATCH);
          int[] rows = new int[to - from];
          for (int i = 0; i < rows.length; i++) {
            rows[i] = from + i;
          }
          int[] pred = Classifier.argmax(clean.logits(all.select(rows)), clean.numClasses());
          for (int i = 0; i < rows.length; i++) {
            correct += pred[i] == y[from + i] ? 1 : 0;
          }
        }
        balance = correct / (double) idx.length;
      }
      imagesSinceBalance = 0;
    }

    private void evaluate(int epoch, int epochs, Map<String, Object> line) {
      TrainingRecipe.Evaluation ev = recipe.evaluation();
      boolean due = evalIdx.length > 0 && (epoch % ev.everyEpochs() == 0 || epoch == epochs);
      line.put("eval_samples", due ? evalIdx.length : 0);
      if (!due) {
        line.put("clean_accuracy_adv_bn", null);
        line.put("clean_accuracy_clean_bn", null);
        line.put("pgd_accuracy", null);
        line.put("pgd_steps", ev.pgdSteps());
        return;
      }
      NetworkClassifier adv = new NetworkClassifier(net, Branch.ADV, false);
      line.put("clean_accuracy_adv_bn", num(accuracy(adv, test, evalIdx)));
      line.put("clean_accuracy_clean_bn", num(net.splitBn()
          ? accuracy(new NetworkClassifier(net, Branch.CLEAN, false), test, evalIdx)
          : ((Number) line.get("clean_accuracy_adv_bn")).doubleValue()));
      double eps = recipe.attack().epsilon();
      Pgd pgd = new Pgd(recipe.attack().threatModel(), ev.pgdSteps(), eps / 4, 1, LossHead.CE,
          true, recipe.seed());
      int robust = 0;
      for (int from = 0; from < evalIdx.length; from += EVAL_BATCH) {
        int[] part = java.util.Arrays.copyOfRange(evalIdx, from,
            Math.min(evalIdx.length, from + EVAL_BATCH));
        long[] ids = new long[part.length];
        for (int i = 0; i < part.length; i++) {
          ids[i] = part[i];
        }
        AttackResult r = pgd.run(adv, batch(test, part), test.gatherLabels(part), ids);
        robust += part.length - r.successes();
      }
      line.put("pgd_accuracy", num(robust / (double) evalIdx.length));
      line.put("pgd_steps", ev.pgdSteps());
      line.put("pgd_epsilon", eps);
      line.put("pgd_norm", recipe.attack().norm());
    }

    private void checkpoint(int epoch, int stepInEpochNow) throws IOException {
      Path dir = outDir.resolve("checkpoints").resolve(Checkpoint.folderName(epoch,
          stepInEpochNow));
      TrainingState state = new TrainingState(epoch, stepInEpochNow, globalStep, balance,
          imagesSinceBalance, provenance, swa == null ? 0 : swa.snapshots());
      Map<String, dev.arat.specs.Tensor> opt = new LinkedHashMap<>(sgd.state());
      if (swa != null) {
        opt.putAll(swa.state());
      }
      new Checkpoint(arch, recipe, net.toTensors(), opt, state).write(dir);
      lastCheckpoint = dir;
      lastCheckpointStep = globalStep;
    }
  }

  /** Sums over the steps of one epoch. */
  private static final class Meter {
    double total;
    double ceAdv;
    double ceClean;
    double inv;
    double wAdv = Double.NaN;
    double wClean = Double.NaN;
    long correct;
    long correctClean;
    long images;
    int steps;
    double conflictSeconds;
    double swaSeconds;

    void add(Objective.StepLoss l, double wa, double wc) {
      total += l.total();
      ceAdv += l.ceAdv();
      ceClean += Double.isNaN(l.ceClean()) ? 0 : l.ceClean();
      inv += Double.isNaN(l.invariance()) ? 0 : l.invariance();
      correct += l.correct();
      correctClean += l.correctClean();
      images += l.n();
      steps++;
      wAdv = wa;
      wClean = wc;
    }

    double seconds(long startNanos) {
      return Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
    }
  }

  private static Object num(double v) {
    return Double.isFinite(v) ? (Object) v : null;
  }

  private static String eta(double seconds) {
    long s = Math.round(seconds);
    return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  }

  private static String summary(Map<String, Object> line) {
    return String.format(Locale.ROOT,
        "epoch %s/%s  loss %s  train_acc %s  clean(adv-bn) %s  clean(clean-bn) %s  pgd-%s %s  "
            + "%s img/s  %s s",
        line.get("epoch"), line.get("epochs"), fmt(line.get("loss")),
        fmt(line.get("train_accuracy")), fmt(line.get("clean_accuracy_adv_bn")),
        fmt(line.get("clean_accuracy_clean_bn")), line.get("pgd_steps"),
        fmt(line.get("pgd_accuracy")), fmt(line.get("images_per_second")),
        fmt(line.get("epoch_seconds")));
  }

  private static String fmt(Object v) {
    return v instanceof Number num ? String.format(Locale.ROOT, "%.4g", num.doubleValue()) : "-";
  }
}
