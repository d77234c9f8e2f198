package dev.arat.trainer;

import dev.arat.attack.ImageBatch;
import dev.arat.data.Augmentation;
import dev.arat.data.ImageDataset;
import dev.arat.data.Permutations;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.Tensor;
import dev.arat.specs.TrainingRecipe;
import dev.arat.specs.TrainingState;
import dev.arat.trainer.nn.SplitBnNetwork;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a run's SWA model as the checkpoint folder {@code RUN/swa} once the last epoch is done:
 * the averaged parameters under the normal names and adversarial BN statistics re-estimated with
 * PGD examples against the SWA model ({@link SwaAverage#recalibratedWeights}), over {@code
 * swa.bn_batches} training batches (all when 0) in the order {@code Permutations.of(n, mix(seed ^
 * SWA_ORDER, globalStep))}, batch {@code b} augmented from {@code mix(seed ^ SWA_AUGMENT, b)} and
 * attacked from {@code mix(seed ^ SWA_ATTACK, b)} ({@link RunSeeds}).
 */
final class SwaModelWriter {
  private SwaModelWriter() {}

  /**
   * Writes {@code outDir/swa}, or nothing (with a message) when no snapshot was taken.
   *
   * @param state the run's state after its last epoch; its provenance gets the SWA entries
   * @param trainIds the dataset index of each training image (the attack's sample ids)
   * @return the folder written, or null
   */
  static Path write(
      SwaAverage swa,
      SplitBnNetwork net,
      TrainingRecipe recipe,
      ArchitectureSpec arch,
      ImageDataset train,
      int[] trainIds,
      Augmentation aug,
      TrainingState state,
      Path outDir,
      PrintStream progress)
      throws IOException {
    if (swa.snapshots() == 0) {
      if (progress != null) {
        progress.println(
            "swa: no snapshot was taken (start_epoch "
                + recipe.swa().startEpoch()
                + ", every_steps "
                + recipe.swa().everySteps()
                + "); no SWA model written");
      }
      return null;
    }
    long t0 = System.nanoTime();
    int n = train.size();
    int bs = recipe.batchSize();
    int steps = Trainer.stepsPerEpoch(n, bs);
    int batches = recipe.swa().bnBatches() > 0 ? Math.min(steps, recipe.swa().bnBatches()) : steps;
    long seed = recipe.seed();
    int[] order = Permutations.of(n, RunSeeds.of(seed, RunSeeds.SWA_ORDER, state.globalStep()));
    Map<String, Tensor> weights =
        swa.recalibratedWeights(
            net,
            recipe,
            net.manager(),
            batches,
            b -> {
              int[] rows = Arrays.copyOfRange(order, b * bs, Math.min(n, b * bs + bs));
              ImageBatch x =
                  Trainer.augment(
                      aug, Trainer.batch(train, rows), RunSeeds.of(seed, RunSeeds.SWA_AUGMENT, b));
              long[] ids = new long[rows.length];
              for (int i = 0; i < rows.length; i++) {
                ids[i] = trainIds[rows[i]];
              }
              return new SwaAverage.Batch(x, train.gatherLabels(rows), ids);
            },
            b -> RunSeeds.of(seed, RunSeeds.SWA_ATTACK, b));
    Map<String, String> prov = new LinkedHashMap<>(state.provenance());
    prov.put("model", "swa");
    prov.put("swa_snapshots", Integer.toString(swa.snapshots()));
    prov.put("swa_bn_batches", Integer.toString(batches));
    prov.put(
        "swa_bn",
        "adv BN statistics re-estimated with PGD examples against the SWA model "
            + "(train mode, cumulative average); clean BN statistics reset");
    TrainingState swaState =
        new TrainingState(
            state.epoch(),
            0,
            state.globalStep(),
            state.balanceAccuracy(),
            state.imagesSinceBalance(),
            prov,
            swa.snapshots());
    Path dir = outDir.resolve("swa");
    new Checkpoint(arch, recipe, weights, Map.of(), swaState).write(dir);
    if (progress != null) {
      progress.printf(
          Locale.ROOT,
          "swa: %d snapshots, BN re-estimated on %d batches in %.1f s;" + " SWA model in %s%n",
          swa.snapshots(),
          batches,
          (System.nanoTime() - t0) / 1e9,
          dir);
    }
    return dir;
  }
}
