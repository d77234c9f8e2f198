package dev.arat.attack;

import dev.arat.specs.LossHead;
import dev.arat.specs.ThreatModel;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * APGD-T, targeted APGD on the targeted DLR loss (Croce and Hein, "Reliable evaluation of
 * adversarial robustness with an ensemble of diverse parameter-free attacks", ICML 2020), under
 * Linf or L2; reference/ATTACKS.md §10.3–10.4. arat's own Java implementation of the reference's
 * {@code APGDAttack_targeted}.
 *
 * <p>For target rank k = 2, 3, ..., {@code targets + 1}: the target of each still-robust sample is
 * the class with the k-th largest <em>clean</em> logit (stable order: the lower index first at
 * ties); APGD ({@link Apgd}: same start, step, momentum and checkpoints) ascends {@code DLR_t =
 * -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4)/2 + 1e-12)} for {@code restarts} runs, each on the
 * samples still robust; samples that broke drop out. A success is any misclassification, not only
 * reaching the target. Needs K >= 4 classes and {@code targets <= K - 1}.
 *
 * <p>The per-sample generators are created once per call (the reference resets its seed once at the
 * start of the targeted run) and continue across targets and restarts. The iteration of a success
 * is {@code ((rank - 2) * restarts + restart) * steps + t}, t the gradient steps taken (0 = start).
 */
public final class ApgdTargeted extends AbstractAttack {
  private final int steps;
  private final int targets;
  private final int restarts;
  private final double rho;
  private final int eotIter;

  /**
   * Creates the attack.
   *
   * @param threat the budget (Linf or L2)
   * @param steps iterations per run, {@code > 0} (AutoAttack: 100)
   * @param targets target classes tried, {@code >= 1} (AutoAttack: 9); must be at most K - 1
   * @param restarts runs per target on still-robust samples, {@code >= 1} (AutoAttack: 1)
   * @param rho the Condition-1 threshold in {@code (0,1)} (0.75)
   * @param eotIter gradient passes averaged per step (1 = plain)
   * @param seed seed of the random starts
   */
  public ApgdTargeted(
      ThreatModel threat,
      int steps,
      int targets,
      int restarts,
      double rho,
      int eotIter,
      long seed) {
    super(threat, seed);
    if (steps <= 0) {
      throw new IllegalArgumentException("apgd-t: steps must be > 0, was " + steps);
    }
    if (targets <= 0) {
      throw new IllegalArgumentException("apgd-t: targets must be >= 1, was " + targets);
    }
    if (restarts <= 0) {
      throw new IllegalArgumentException("apgd-t: restarts must be >= 1, was " + restarts);
    }
    if (!(rho > 0 && rho < 1)) {
      throw new IllegalArgumentException("apgd-t: rho must be in (0,1), was " + rho);
    }
    if (eotIter < 1) {
      throw new IllegalArgumentException("apgd-t: eot_iter must be >= 1, was " + eotIter);
    }
    this.steps = steps;
    this.targets = targets;
    this.restarts = restarts;
    this.rho = rho;
    this.eotIter = eotIter;
  }

  /** APGD-T with rho 0.75 and no EoT. */
  public ApgdTargeted(ThreatModel threat, int steps, int targets, int restarts, long seed) {
    this(threat, steps, targets, restarts, Apgd.DEFAULT_RHO, 1, seed);
  }

  /** Target classes tried per sample. */
  public int targets() {
    return targets;
  }

  @Override
  public String name() {
    return "apgd-t-"
        + steps
        + "-t"
        + targets
        + (restarts > 1 ? "-x" + restarts : "")
        + (eotIter > 1 ? "-eot" + eotIter : "");
  }

  @Override
  public Map<String, Object> settings() {
    Map<String, Object> s = baseSettings("apgd-t", "Croce and Hein 2020 (APGD-T)");
    s.put("steps", steps);
    s.put("targets", targets);
    s.put("target_rule", "k-th largest clean logit, k = 2.." + (targets + 1));
    s.put("restarts", restarts);
    s.put("loss", LossHead.DLR_TARGETED.id());
    s.put("rho", rho);
    s.put("momentum", ApgdRun.MOMENTUM);
    s.put("initial_step_size", 2 * threat.epsilon());
    s.put("checkpoints", Arrays.toString(ApgdRun.checkpoints(steps)));
    s.put("eot_iter", eotIter);
    s.put(
        "success_check",
        "every iterate (any misclassification); first misclassified iterate returned");
    s.put("seed", seed);
    return s;
  }

  /** Checks K >= 4 and {@code targets <= K - 1} with messages that say what to change. */
  static void checkTargets(String attack, int k, int targets, boolean needsDlr) {
    if (needsDlr) {
      Apgd.checkClasses(k, LossHead.DLR_TARGETED);
    }
    if (targets > k - 1) {
      throw new IllegalArgumentException(
          attack
              + ": "
              + targets
              + " targets need a model with at least "
              + (targets + 1)
              + " classes, this one has "
              + k
              + "; set targets to at most "
              + (k - 1));
    }
  }

  /**
   * Per sample, the classes ordered by descending clean logit (lower index first at ties): row i
   * holds the K classes of sample i, so column {@code rank - 1} is the target of that rank.
   */
  static int[][] rankedClasses(float[] logits, int k, int n) {
    int[][] out = new int[n][];
    for (int i = 0; i < n; i++) {
      final int o = i * k;
      Integer[] idx = new Integer[k];
      for (int j = 0; j < k; j++) {
        idx[j] = j;
      }
      Arrays.sort(idx, (a, b) -> Float.compare(logits[o + b], logits[o + a]));
      out[i] = Arrays.stream(idx).mapToInt(Integer::intValue).toArray();
    }
    return out;
  }

  @Override
  protected void checkModel(GradientClassifier model) {
    checkTargets("apgd-t", model.numClasses(), targets, true);
  }

  @Override
  protected void attack(
      GradientClassifier model, ImageBatch x, int[] labels, long[] sampleIds, Candidates c) {
    int k = model.numClasses();
    int n = x.n();
    float[] out = c.out;
    boolean[] success = c.success;
    int[] iteration = c.iteration;
    GradientClassifier m = Eot.wrap(model, eotIter);
    SplittableRandom[] rngs = generators(sampleIds);
    int[][] ranked = rankedClasses(model.logits(x), k, n);
    int[] active = ApgdRun.range(n);
    int[] tg = new int[n];
    for (int rank = 2; rank <= targets + 1 && active.length > 0; rank++) {
      for (int i = 0; i < n; i++) {
        tg[i] = ranked[i][rank - 1];
      }
      for (int r = 0; r < restarts && active.length > 0; r++) {
        int base = ((rank - 2) * restarts + r) * steps;
        active =
            ApgdRun.runOn(
                m,
                threat.norm(),
                threat.epsilon(),
                steps,
                rho,
                x,
                labels,
                tg,
                LossHead.DLR_TARGETED,
                active,
                rngs,
                base,
                out,
                success,
                iteration);
      }
    }
  }
}
