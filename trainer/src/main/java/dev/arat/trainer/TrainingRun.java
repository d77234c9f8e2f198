package dev.arat.trainer;

import static dev.arat.trainer.Trainer.EVAL_BATCH;
import static dev.arat.trainer.Trainer.accuracy;
import static dev.arat.trainer.Trainer.augment;
import static dev.arat.trainer.Trainer.augmentation;
import static dev.arat.trainer.Trainer.batch;
import static dev.arat.trainer.Trainer.rssMb;
import static dev.arat.trainer.Trainer.stepsPerEpoch;

import ai.djl.ndarray.NDManager;
import dev.arat.attack.AttackResult;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.Pgd;
import dev.arat.attack.Seeds;
import dev.arat.data.Augmentation;
import dev.arat.data.ImageDataset;
import dev.arat.data.Permutations;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.LossHead;
import dev.arat.specs.Tensor;
import dev.arat.specs.TrainingRecipe;
import dev.arat.specs.TrainingState;
import dev.arat.trainer.nn.NetworkClassifier;
import dev.arat.trainer.nn.Sgd;
import dev.arat.trainer.nn.SplitBnNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * The mutable state and the epoch loop of one call of {@link Trainer#train}: steps, SWA snapshots,
 * gradient-conflict measurements, per-epoch evaluation, {@code metrics.jsonl} lines and checkpoints
 * (see {@link Trainer} for the run folder and the determinism contract).
 */
final class TrainingRun {
  final Trainer trainer;
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
  final ConflictLog conflicts;

  /** The replicas when the recipe names several devices, else null. */
  DataParallel parallel;

  int epochDone;
  int stepInEpoch;
  long globalStep;
  double balance = -1;
  long imagesSinceBalance;
  Path lastCheckpoint;
  long lastCheckpointStep = -1;

  /** The last completed epoch's metrics line, null before the first. */
  EpochMetrics lastMetrics;

  TrainingRun(
      Trainer trainer,
      TrainingRecipe recipe,
      ArchitectureSpec arch,
      SplitBnNetwork net,
      Sgd sgd,
      Path outDir,
      ImageDataset train,
      int[] trainIds,
      ImageDataset test,
      int[] evalIdx,
      Map<String, String> provenance,
      PrintStream progress) {
    this.trainer = trainer;
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
    this.conflictInterval =
        arat && !net.taps().isEmpty() && recipe.arat().gamma() > 0
            ? recipe.arat().conflictInterval()
            : 0;
    this.conflicts = new ConflictLog(outDir);
  }

  TrainingResult loop() throws IOException {
    int n = train.size();
    int bs = recipe.batchSize();
    int steps = stepsPerEpoch(n, bs);
    if (steps == 0) {
      throw new IllegalArgumentException(
          "the training set has " + n + " images: too few for " + "one step");
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
        if (Thread.interrupted()
            || trainer.stopRequested()
            || (trainer.stopAtGlobalStep >= 0 && globalStep >= trainer.stopAtGlobalStep)) {
          trainer.requestStop();
          if (lastCheckpointStep != globalStep) {
            checkpoint(epoch - 1, s);
          }
          if (console) {
            progress.println();
          }
          if (progress != null) {
            progress.println(
                "stopped at epoch "
                    + epoch
                    + " step "
                    + s
                    + "/"
                    + steps
                    + "; checkpoint "
                    + lastCheckpoint);
          }
          return result(true);
        }
        if (autoBalance
            && recipe.arat().balanceInterval() > 0
            && imagesSinceBalance >= recipe.arat().balanceInterval()) {
          measureBalance();
        }
        int from = s * bs;
        int to = Math.min(n, from + bs);
        int[] rows = Arrays.copyOfRange(order, from, to);
        lr =
            recipe.schedule().at(recipe.optimizer().lr(), (epoch - 1) + s / (double) steps, epochs);
        double wAdv = autoBalance ? balance : 1.0;
        double wClean = autoBalance ? 1.0 - balance : 1.0;
        Objective.StepLoss loss = step(rows, lr, wAdv, wClean, epoch, m);
        if (!Double.isFinite(loss.total())) {
          throw new IllegalStateException(
              "loss is "
                  + loss.total()
                  + " at epoch "
                  + epoch
                  + " step "
                  + s
                  + " (lr "
                  + lr
                  + "); lower the learning rate");
        }
        globalStep++;
        stepsThisCall++;
        stepInEpoch = s + 1;
        imagesSinceBalance += rows.length;
        m.add(loss, wAdv, wClean);
        if (swa != null
            && epoch >= recipe.swa().startEpoch()
            && globalStep % recipe.swa().everySteps() == 0) {
          long t0 = System.nanoTime();
          swa.update(net);
          m.swaSeconds += (System.nanoTime() - t0) / 1e9;
        }
        if (console) {
          double perStep = (System.nanoTime() - runStartNanos) / 1e9 / stepsThisCall;
          long remaining = (long) (epochs - epoch) * steps + (steps - s - 1);
          progress.printf(
              Locale.ROOT,
              "\repoch %d/%d  step %d/%d  %.0f img/s  ETA %s  loss %.4f ",
              epoch,
              epochs,
              s + 1,
              steps,
              m.images / m.seconds(epochStart),
              eta(perStep * remaining),
              m.total / m.steps);
          progress.flush();
        }
        int every = recipe.checkpoint().everySteps();
        if (every > 0 && globalStep % every == 0 && s + 1 < steps) {
          checkpoint(epoch - 1, s + 1);
        }
      }
      double trainSeconds = m.seconds(epochStart);
      long evalStart = System.nanoTime();
      EpochMetrics.Conflict conflict =
          conflictInterval > 0 ? conflicts.means(epoch, m.conflictSeconds) : null;
      EpochMetrics.Evaluation evaluation = evaluate(epoch, epochs);
      Runtime rt = Runtime.getRuntime();
      EpochMetrics.Resources resources =
          new EpochMetrics.Resources(
              m.images / trainSeconds,
              trainSeconds,
              (System.nanoTime() - evalStart) / 1e9,
              (System.nanoTime() - epochStart) / 1e9,
              rssMb(),
              rt.totalMemory() / 1048576.0,
              (rt.totalMemory() - rt.freeMemory()) / 1048576.0);
      EpochMetrics line =
          new EpochMetrics(
              epoch,
              epochs,
              globalStep,
              recipe.method(),
              lr,
              m.total / m.steps,
              m.ceAdv / m.steps,
              arat || trades ? m.ceClean / m.steps : Double.NaN,
              arat || trades ? m.inv / m.steps : Double.NaN,
              m.wAdv,
              m.wClean,
              autoBalance ? balance : Double.NaN,
              m.correct / (double) m.images,
              arat || trades ? m.correctClean / (double) m.images : Double.NaN,
              m.images,
              startStep,
              conflict,
              swa != null ? swa.snapshots() : null,
              evaluation,
              resources);
      epochDone = epoch;
      stepInEpoch = 0;
      MetricsFiles.append(outDir.resolve("metrics.jsonl"), line);
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
      swaDir =
          SwaModelWriter.write(
              swa,
              net,
              recipe,
              arch,
              train,
              trainIds,
              aug,
              new TrainingState(epochDone, 0, globalStep, balance, imagesSinceBalance, provenance),
              outDir,
              progress);
    }
    return result(false);
  }

  private TrainingResult result(boolean interrupted) {
    return new TrainingResult(
        outDir, lastCheckpoint, epochDone, globalStep, interrupted, lastMetrics, swaDir);
  }

  Path swaDir;

  private Objective.StepLoss step(
      int[] rows, double lr, double wAdv, double wClean, int epoch, Meter m) throws IOException {
    ImageBatch x =
        augment(aug, batch(train, rows), RunSeeds.of(recipe.seed(), RunSeeds.AUGMENT, globalStep));
    int[] labels = train.gatherLabels(rows);
    long[] ids = new long[rows.length];
    for (int i = 0; i < rows.length; i++) {
      ids[i] = trainIds[rows[i]];
    }
    long attackSeed = Seeds.mix(recipe.seed(), globalStep);
    ImageBatch adv =
        parallel != null
            ? parallel.adversarial(x, labels, ids, attackSeed)
            : objective.adversarial(x, labels, ids, attackSeed);
    if (conflictInterval > 0 && globalStep % conflictInterval == 0) {
      long t0 = System.nanoTime();
      Objective.Conflict c = objective.conflict(x, adv, labels, wAdv, wClean);
      if (c != null) {
        conflicts.append(epoch, globalStep, c);
      }
      m.conflictSeconds += (System.nanoTime() - t0) / 1e9;
    }
    if (parallel != null) {
      return parallel.step(x, adv, labels, wAdv, wClean, sgd, lr);
    }
    try (NDManager step = net.manager().newSubManager()) {
      Objective.StepLoss loss =
          objective.backward(step, x, adv, labels, wAdv, wClean, Objective.allTerms());
      sgd.step(lr, step);
      return loss;
    }
  }

  private void measureBalance() {
    int k = Math.min(recipe.arat().balanceSamples(), train.size());
    int[] idx =
        Permutations.firstOf(
            train.size(), k, RunSeeds.of(recipe.seed(), RunSeeds.BALANCE_SAMPLE, globalStep));
    NetworkClassifier clean = new NetworkClassifier(net, Branch.CLEAN, false);
    if (aug.isIdentity()) {
      balance = accuracy(clean, train, idx);
    } else {
      // the paper measures on augmented training batches (P5)
      ImageBatch all =
          augment(
              aug,
              batch(train, idx),
              RunSeeds.of(recipe.seed(), RunSeeds.BALANCE_AUGMENT, globalStep));
      balance =
          accuracy(
              clean,
              train.gatherLabels(idx),
              (from, to) -> all.select(IntStream.range(from, to).toArray()));
    }
    imagesSinceBalance = 0;
  }

  private EpochMetrics.Evaluation evaluate(int epoch, int epochs) {
    TrainingRecipe.Evaluation ev = recipe.evaluation();
    boolean due = evalIdx.length > 0 && (epoch % ev.everyEpochs() == 0 || epoch == epochs);
    if (!due) {
      return new EpochMetrics.Evaluation(
          0, Double.NaN, Double.NaN, Double.NaN, ev.pgdSteps(), null, null);
    }
    NetworkClassifier adv = new NetworkClassifier(net, Branch.ADV, false);
    double cleanAdvBn = accuracy(adv, test, evalIdx);
    double cleanCleanBn =
        net.splitBn()
            ? accuracy(new NetworkClassifier(net, Branch.CLEAN, false), test, evalIdx)
            : cleanAdvBn;
    double eps = recipe.attack().epsilon();
    Pgd pgd =
        new Pgd(
            recipe.attack().threatModel(),
            ev.pgdSteps(),
            eps / 4,
            1,
            LossHead.CE,
            true,
            recipe.seed());
    int robust = 0;
    for (int from = 0; from < evalIdx.length; from += EVAL_BATCH) {
      int[] part = Arrays.copyOfRange(evalIdx, from, Math.min(evalIdx.length, from + EVAL_BATCH));
      long[] ids = new long[part.length];
      for (int i = 0; i < part.length; i++) {
        ids[i] = part[i];
      }
      AttackResult r = pgd.run(adv, batch(test, part), test.gatherLabels(part), ids);
      robust += part.length - r.successes();
    }
    return new EpochMetrics.Evaluation(
        evalIdx.length,
        cleanAdvBn,
        cleanCleanBn,
        robust / (double) evalIdx.length,
        ev.pgdSteps(),
        eps,
        recipe.attack().norm());
  }

  private void checkpoint(int epoch, int stepInEpochNow) throws IOException {
    Path dir = outDir.resolve("checkpoints").resolve(Checkpoint.folderName(epoch, stepInEpochNow));
    TrainingState state =
        new TrainingState(
            epoch,
            stepInEpochNow,
            globalStep,
            balance,
            imagesSinceBalance,
            provenance,
            swa == null ? 0 : swa.snapshots());
    Map<String, Tensor> opt = new LinkedHashMap<>(sgd.state());
    if (swa != null) {
      opt.putAll(swa.state());
    }
    new Checkpoint(arch, recipe, net.toTensors(), opt, state).write(dir);
    lastCheckpoint = dir;
    lastCheckpointStep = globalStep;
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

  private static String eta(double seconds) {
    long s = Math.round(seconds);
    return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  }

  private static String summary(EpochMetrics line) {
    EpochMetrics.Evaluation ev = line.evaluation();
    return String.format(
        Locale.ROOT,
        "epoch %s/%s  loss %s  train_acc %s  clean(adv-bn) %s  clean(clean-bn) %s  pgd-%s %s  "
            + "%s img/s  %s s",
        line.epoch(),
        line.epochs(),
        fmt(line.loss()),
        fmt(line.trainAccuracy()),
        fmt(ev.cleanAccuracyAdvBn()),
        fmt(ev.cleanAccuracyCleanBn()),
        ev.pgdSteps(),
        fmt(ev.pgdAccuracy()),
        fmt(line.resources().imagesPerSecond()),
        fmt(line.resources().epochSeconds()));
  }

  private static String fmt(double v) {
    return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4g", v) : "-";
  }
}
