package dev.arat.attack;

import dev.arat.specs.LossHead;
import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Auto-PGD, APGD-CE and APGD-DLR (Croce and Hein, "Reliable evaluation of adversarial robustness
 * with an ensemble of diverse parameter-free attacks", ICML 2020), under Linf or L2, as specified
 * in reference/ATTACKS.md §10.2; arat's own Java implementation of the reference {@code
 * autopgd_base.py}.
 *
 * <ul>
 *   <li>Start on the sphere of radius eps: Linf {@code x + eps * t/||t||_inf}, t uniform in {@code
 *       [-1,1]^d}; L2 {@code x + eps * g/||g||_2}, g Gaussian; then clipped to {@code [0,1]}.
 *   <li>Step size 2 eps per sample; step {@code z = P(x + eta sign(g))} (L2: {@code g/||g||_2}),
 *       momentum {@code x' = P(x + a (z - x) + (1 - a)(x - x_prev))} with a = 1 at the first step
 *       and 0.75 after. P is {@link Projections}.
 *   <li>Checkpoints by the reference code's interval rule ({@link #checkpoints}); at each one, per
 *       sample, the step size is halved and the iterate and gradient reset to the best-loss point
 *       if Condition 1 (loss increased in at most {@code rho * h} of the last h steps) or Condition
 *       2 (not halved last time and best loss not improved since) holds; "halved last time" starts
 *       true.
 *   <li>The highest-loss point x_best (for the step-size resets) and the misclassified point (the
 *       candidate) are kept apart.
 *   <li>Restarts run only on samples still robust; each sample's draws come from {@link
 *       Seeds#forSample}{@code (seed, id)} and restarts continue that stream.
 * </ul>
 *
 * <p>A sample stops at its first misclassified iterate, which is returned (the reference keeps
 * iterating and returns the last misclassified iterate; the samples broken are the same because
 * samples are independent). Samples never broken get their highest-loss iterate. The iteration of a
 * success is {@code restart * steps + t}, with t the gradient steps taken (0 = the start point).
 *
 * <p>With {@code eotIter > 1} every gradient is averaged over that many passes ({@link Eot}).
 */
public final class Apgd extends AbstractAttack {
  /** Condition-1 threshold of the paper and the reference code. */
  public static final double DEFAULT_RHO = 0.75;

  private final int steps;
  private final int restarts;
  private final LossHead loss;
  private final double rho;
  private final int eotIter;

  /**
   * Creates the attack.
   *
   * @param threat the budget (Linf or L2), epsilon in {@code [0,1]} pixel units
   * @param steps iterations per restart N, {@code > 0} (AutoAttack: 100)
   * @param restarts runs on the samples still robust, {@code >= 1} (AutoAttack standard: 1)
   * @param loss an untargeted head: CE (APGD-CE) or DLR (APGD-DLR, needs K >= 3); MARGIN also works
   * @param rho the Condition-1 threshold in {@code (0,1)} (0.75)
   * @param eotIter gradient passes averaged per step (1 = plain; 20 for the "rand" version)
   * @param seed seed of the random starts
   */
  public Apgd(
      ThreatModel threat,
      int steps,
      int restarts,
      LossHead loss,
      double rho,
      int eotIter,
      long seed) {
    super(threat, seed);
    if (steps <= 0) {
      throw new IllegalArgumentException("apgd: steps must be > 0, was " + steps);
    }
    if (restarts <= 0) {
      throw new IllegalArgumentException("apgd: restarts must be >= 1, was " + restarts);
    }
    if (loss == null || loss.targeted()) {
      throw new IllegalArgumentException(
          "apgd: loss must be an untargeted head (ce or dlr), was " + loss);
    }
    if (!(rho > 0 && rho < 1)) {
      throw new IllegalArgumentException("apgd: rho must be in (0,1), was " + rho);
    }
    if (eotIter < 1) {
      throw new IllegalArgumentException("apgd: eot_iter must be >= 1, was " + eotIter);
    }
    this.steps = steps;
    this.restarts = restarts;
    this.loss = loss;
    this.rho = rho;
    this.eotIter = eotIter;
  }

  /** APGD with rho 0.75 and no EoT. */
  public Apgd(ThreatModel threat, int steps, int restarts, LossHead loss, long seed) {
    this(threat, steps, restarts, loss, DEFAULT_RHO, 1, seed);
  }

  /**
   * The iterations after which the step size is checked for a budget of {@code steps}: the interval
   * starts at {@code max(floor(0.22 N), 1)}, shrinks by {@code max(floor(0.03 N), 1)} after each
   * check and has a floor of {@code max(floor(0.06 N), 1)}. Value c means "after c gradient steps"
   * (0-based loop index c - 1, as in the reference's {@code counter3 == k}). N = 100 gives 22, 41,
   * 57, 70, 80, 87, 93, 99.
   */
  public static int[] checkpoints(int steps) {
    return ApgdRun.checkpoints(steps);
  }

  /** Iterations per restart. */
  public int steps() {
    return steps;
  }

  /** Runs on still-robust samples. */
  public int restarts() {
    return restarts;
  }

  /** The loss head ascended. */
  public LossHead loss() {
    return loss;
  }

  @Override
  public String name() {
    return "apgd-"
        + loss.id()
        + "-"
        + steps
        + (restarts > 1 ? "-x" + restarts : "")
        + (eotIter > 1 ? "-eot" + eotIter : "");
  }

  @Override
  public Map<String, Object> settings() {
    Map<String, Object> s =
        baseSettings(
            "apgd",
            "Croce and Hein 2020 (APGD-" + loss.id().toUpperCase(java.util.Locale.ROOT) + ")");
    s.put("steps", steps);
    s.put("restarts", restarts);
    s.put("loss", loss.id());
    s.put("rho", rho);
    s.put("momentum", ApgdRun.MOMENTUM);
    s.put("initial_step_size", 2 * threat.epsilon());
    s.put("checkpoints", Arrays.toString(checkpoints(steps)));
    s.put(
        "start",
        threat.norm() == Norm.LINF
            ? "eps * t/||t||_inf, t uniform in [-1,1]^d"
            : "eps * g/||g||_2, g Gaussian");
    s.put("eot_iter", eotIter);
    s.put("success_check", "every iterate; first misclassified iterate returned");
    s.put("seed", seed);
    return s;
  }

  @Override
  protected void checkModel(GradientClassifier model) {
    checkClasses(model.numClasses(), loss);
  }

  @Override
  protected void attack(
      GradientClassifier model, ImageBatch x, int[] labels, long[] sampleIds, Candidates c) {
    int n = x.n();
    float[] out = c.out;
    boolean[] success = c.success;
    int[] iteration = c.iteration;
    GradientClassifier m = Eot.wrap(model, eotIter);
    SplittableRandom[] rngs = generators(sampleIds);
    int[] active = ApgdRun.range(n);
    for (int r = 0; r < restarts && active.length > 0; r++) {
      active =
          ApgdRun.runOn(
              m,
              threat.norm(),
              threat.epsilon(),
              steps,
              rho,
              x,
              labels,
              null,
              loss,
              active,
              rngs,
              r * steps,
              out,
              success,
              iteration);
    }
  }

  /** K >= 3 for DLR, K >= 4 for targeted DLR, with a message that says what is wrong. */
  static void checkClasses(int k, LossHead head) {
    int need = LossHeads.minClasses(head);
    if (k < need) {
      throw new IllegalArgumentException(
          "loss "
              + head.id()
              + " needs a model with at least "
              + need
              + " classes, this one has "
              + k
              + (head == LossHead.DLR ? "; use loss ce" : ""));
    }
  }
}
