package dev.arat.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.Pgd;
import dev.arat.specs.LossHead;
import dev.arat.specs.Tensor;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.nn.NetworkClassifier;
import dev.arat.trainer.nn.SplitBnNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * Stochastic weight averaging as in the ARAT+SWA scripts (ARAT-METHOD §4, after Chen et al.): an
 * equal-weight running mean {@code θ_swa ← (1 − 1/(n+1))·θ_swa + θ/(n+1)} of the
 * <em>parameters</em> only: conv and linear weights and biases and the affine parameters of both BN
 * sets. BN running statistics and the ARAT predictors are not averaged. The first snapshot copies
 * θ.
 *
 * <p>The running mean is held as float arrays (computed in double, stored as float) and travels in
 * the checkpoint's optimizer state under {@code swa.<name>} ({@link #state}), with the snapshot
 * count in {@code TrainingState.swaSnapshots}, so a resumed run continues it bit-exactly.
 *
 * <p>{@link #recalibratedWeights} gives the exportable SWA model: the averaged parameters plus
 * re-estimated adversarial BN statistics (see there).
 */
public final class SwaAverage {
  /** Prefix of the averaged tensors in the optimizer state of a checkpoint. */
  public static final String PREFIX = "swa.";

  private final List<String> names = new ArrayList<>();
  private final Map<String, float[]> mean = new LinkedHashMap<>();
  private final Map<String, long[]> shapes = new LinkedHashMap<>();
  private int snapshots;

  /** Prepares an empty average over {@code net}'s parameters (not predictors, not BN buffers). */
  public SwaAverage(SplitBnNetwork net) {
    for (String n : net.trainableNames()) {
      if (!n.startsWith("predictor.")) {
        names.add(n);
        shapes.put(n, net.parameters().get(n).getShape().getShape());
      }
    }
  }

  /** Snapshots averaged so far. */
  public int snapshots() {
    return snapshots;
  }

  /** The averaged parameter names. */
  public List<String> names() {
    return List.copyOf(names);
  }

  /** Adds the network's current parameters to the average. */
  public void update(SplitBnNetwork net) {
    double keep = snapshots / (snapshots + 1.0);
    double add = 1.0 / (snapshots + 1.0);
    for (String n : names) {
      float[] theta = net.parameters().get(n).toFloatArray();
      float[] m = mean.get(n);
      if (m == null) {
        mean.put(n, theta);
        continue;
      }
      for (int i = 0; i < m.length; i++) {
        m[i] = (float) (keep * m[i] + add * theta[i]);
      }
    }
    snapshots++;
  }

  /** The averaged tensors as {@code swa.<name>} (empty before the first snapshot). */
  public Map<String, Tensor> state() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    if (snapshots == 0) {
      return out;
    }
    for (String n : names) {
      out.put(PREFIX + n, new Tensor(shapes.get(n), mean.get(n).clone()));
    }
    return out;
  }

  /**
   * Restores the average from a checkpoint's optimizer state.
   *
   * @param optimizerState every optimizer tensor of the checkpoint ({@code swa.} entries are read)
   * @param count the checkpoint's {@code swaSnapshots}
   * @throws IllegalArgumentException when the state does not hold the average the count implies
   */
  public void load(Map<String, Tensor> optimizerState, int count) {
    mean.clear();
    snapshots = count;
    if (count == 0) {
      return;
    }
    for (String n : names) {
      Tensor t = optimizerState.get(PREFIX + n);
      if (t == null || !java.util.Arrays.equals(t.shape(), shapes.get(n))) {
        throw new IllegalArgumentException(
            "checkpoint: SWA state "
                + PREFIX
                + n
                + (t == null ? " missing" : " has the wrong shape")
                + " ("
                + count
                + " snapshots)");
      }
      mean.put(n, t.data().clone());
    }
  }

  /** Drops the {@code swa.} entries from an optimizer state map. */
  public static Map<String, Tensor> withoutSwa(Map<String, Tensor> optimizerState) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    optimizerState.forEach(
        (k, v) -> {
          if (!k.startsWith(PREFIX)) {
            out.put(k, v);
          }
        });
    return out;
  }

  /**
   * The SWA model's weights with re-estimated adversarial BN statistics (ARAT-METHOD §4 {@code
   * bn_update_adv}), under the training network's names, so the result is an ordinary checkpoint's
   * weight map ({@code arat export --checkpoint RUN/swa} exports it).
   *
   * <ol>
   *   <li>A copy of the network (no predictors) gets the averaged parameters; every BN running mean
   *       and variance (clean and adv) is reset to 0 and 1.
   *   <li>For each batch {@code b = 0, 1, ...} of {@code batches}: PGD examples (the recipe's
   *       attack, CE, seed {@code attackSeed.apply(b)}) crafted against the SWA copy itself with
   *       the adv BN set in train mode; then one train-mode forward of the adversarial batch
   *       through the adv set with BN momentum {@code m = size/(seen + size)}, so the running
   *       statistics become the sample-weighted mean of the per-batch statistics (the cumulative
   *       average of the released code).
   *   <li>The clean-BN statistics stay reset (only the adv set is deployed). Predictor weights are
   *       copied unchanged from the training network.
   * </ol>
   *
   * <p>Deviation from the released code: during the attack the BN momentum is 0, so the attack's
   * ten train-mode forwards use batch statistics but do not touch the running buffers; in the
   * released code they also nudge the buffers (with momentum 0.1) between the cumulative updates.
   *
   * @param net the training network (its predictors and names are used; it is not changed)
   * @param recipe the recipe (attack settings)
   * @param parent manager to build the copy under
   * @param batches the number of batches of the pass
   * @param batch the {@code b}-th training batch (augmented as in training) with its labels and
   *     sample ids
   * @param attackSeed the PGD seed of batch {@code b}
   * @return every weight of {@code net} by name, with the SWA parameters and statistics
   * @throws IllegalStateException before the first snapshot
   */
  public Map<String, Tensor> recalibratedWeights(
      SplitBnNetwork net,
      TrainingRecipe recipe,
      NDManager parent,
      int batches,
      IntFunction<Batch> batch,
      IntFunction<Long> attackSeed) {
    if (snapshots == 0) {
      throw new IllegalStateException("SWA has no snapshot yet");
    }
    Map<String, Tensor> all = net.toTensors();
    Map<String, Tensor> backbone = new LinkedHashMap<>();
    for (Map.Entry<String, Tensor> e : all.entrySet()) {
      String k = e.getKey();
      if (k.startsWith("predictor.")) {
        continue;
      }
      Tensor t = e.getValue();
      if (mean.containsKey(k)) {
        t = new Tensor(t.shape(), mean.get(k).clone());
      } else if (k.endsWith(".running_mean")) {
        t = new Tensor(t.shape(), new float[t.data().length]);
      } else if (k.endsWith(".running_var")) {
        float[] ones = new float[t.data().length];
        java.util.Arrays.fill(ones, 1f);
        t = new Tensor(t.shape(), ones);
      }
      backbone.put(k, t);
    }
    try (SplitBnNetwork swa =
        new SplitBnNetwork(
            net.spec(), net.splitBn(), List.of(), 0, recipe.seed(), parent, net.init())) {
      swa.load(backbone);
      swa.setTrainable(false);
      NetworkClassifier attacked = new NetworkClassifier(swa, Branch.ADV, true);
      TrainingRecipe.Attack a = recipe.attack();
      long seen = 0;
      for (int b = 0; b < batches; b++) {
        Batch bt = batch.apply(b);
        swa.setBnMomentum(0.0);
        ImageBatch adv =
            new Pgd(
                    a.threatModel(),
                    a.steps(),
                    a.stepSize(),
                    1,
                    LossHead.CE,
                    a.randomStart(),
                    attackSeed.apply(b))
                .perturb(attacked, bt.images(), bt.labels(), bt.ids());
        int n = adv.n();
        swa.setBnMomentum(n / (double) (seen + n));
        try (NDManager step = swa.manager().newSubManager()) {
          NDArray x = step.create(adv.data(), new Shape(n, adv.c(), adv.h(), adv.w()));
          swa.forward(x, Branch.ADV, true, false);
        }
        seen += n;
      }
      swa.setBnMomentum(null);
      Map<String, Tensor> out = new LinkedHashMap<>();
      Map<String, Tensor> calibrated = swa.toTensors();
      for (Map.Entry<String, Tensor> e : all.entrySet()) {
        out.put(e.getKey(), calibrated.getOrDefault(e.getKey(), e.getValue()));
      }
      return out;
    }
  }

  /**
   * One batch of the re-estimation pass.
   *
   * @param images the (augmented) training images
   * @param labels their classes
   * @param ids their stable sample ids (seeding PGD's random starts)
   */
  public record Batch(ImageBatch images, int[] labels, long[] ids) {}
}
