package dev.arat.attack;

import dev.arat.specs.LossHead;
import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * FAB-T, the targeted fast adaptive boundary attack (Croce and Hein, "Minimally distorted
 * adversarial examples with a fast adaptive boundary attack", ICML 2020; used by AutoAttack, Croce
 * and Hein, ICML 2020), under Linf or L2; reference/ATTACKS.md §10.8. arat's own Java
 * implementation of the protocol of AutoAttack's {@code fab_pt.py} (targeted version).
 *
 * <p>A minimum-norm attack. For target rank k = 2, ..., {@code targets + 1} (t = the class with the
 * k-th largest clean logit) and each of {@code restarts} runs on still-robust samples, {@code
 * steps} iterations of, per sample:
 *
 * <ol>
 *   <li>linearise {@code f = z_t - z_y} at the iterate x1: {@code f(x1) + <w, x' - x1> = 0}, with
 *       {@code w = grad f};
 *   <li>project x1 and the clean x0 onto that hyperplane intersected with {@code [0,1]^d}, exactly
 *       ({@link FabProjections}): displacements d1, d2;
 *   <li>{@code alpha = min(||d1|| / (||d1|| + ||d2||), alphaMax)}, {@code x1 <- clip((x1 + eta
 *       d1)(1 - alpha) + (x0 + eta d2) alpha)} (eta overshoots);
 *   <li>if x1 is misclassified: keep it if its norm is the smallest so far, then back off {@code x1
 *       <- x0 + beta (x1 - x0)}.
 * </ol>
 *
 * The first run per target starts at x0; later runs at {@code clip(x0 + eps/2 * t/||t||)} (t
 * uniform in the cube for Linf, Gaussian for L2) drawn from the sample's generator. A success
 * counts only when the adversarial point found has norm {@code <= eps}.
 *
 * <p>Cost per iteration, like the reference: one {@link LossHead#LOGIT_DIFF} gradient call (the
 * value and slope of {@code z_t - z_y}) and one forward call that checks the new iterate, both on
 * the samples still running. (Letting the next gradient call's logits do the check would save the
 * forward only for samples that do not cross the boundary; FAB's overshoot makes most cross, and
 * each crossing sample would then pay a second gradient call at its backed-off point: measured 1.9
 * gradient calls per iteration on the demo model, dearer than one gradient and one forward.) The
 * per-sample projections run in parallel over samples; each sample's arithmetic is unchanged, so
 * results do not depend on the thread count.
 *
 * <p>A sample stops as soon as it has an adversarial point within eps (the reference keeps
 * minimising the norm; the samples broken are the same), which is returned; samples without one
 * return the clean input. Samples already misclassified at the clean input succeed at iteration 0.
 * The iteration of a success is {@code ((rank - 2) * restarts + restart) * steps + t} with t the
 * iterations done (1-based).
 */
public final class FabTargeted extends AbstractAttack {
  private final int steps;
  private final int targets;
  private final int restarts;
  private final double alphaMax;
  private final double eta;
  private final double beta;

  /**
   * Creates the attack.
   *
   * @param threat the budget (Linf or L2)
   * @param steps iterations per run, {@code > 0} (AutoAttack: 100)
   * @param targets target classes, {@code >= 1} (AutoAttack: 9), at most K - 1
   * @param restarts runs per target, {@code >= 1} (AutoAttack: 1)
   * @param alphaMax cap of the weight on the clean point, in {@code [0,1]} (0.1)
   * @param eta overshoot, {@code >= 1} (1.05)
   * @param beta back-off towards x0 after a success, in {@code (0,1]} (0.9)
   * @param seed seed of the random starts of restarts
   */
  public FabTargeted(
      ThreatModel threat,
      int steps,
      int targets,
      int restarts,
      double alphaMax,
      double eta,
      double beta,
      long seed) {
    super(threat, seed);
    if (steps <= 0) {
      throw new IllegalArgumentException("fab-t: steps must be > 0, was " + steps);
    }
    if (targets <= 0) {
      throw new IllegalArgumentException("fab-t: targets must be >= 1, was " + targets);
    }
    if (restarts <= 0) {
      throw new IllegalArgumentException("fab-t: restarts must be >= 1, was " + restarts);
    }
    if (!(alphaMax >= 0 && alphaMax <= 1)) {
      throw new IllegalArgumentException("fab-t: alpha_max must be in [0,1], was " + alphaMax);
    }
    if (!(eta >= 1) || Double.isInfinite(eta)) {
      throw new IllegalArgumentException("fab-t: eta must be >= 1, was " + eta);
    }
    if (!(beta > 0 && beta <= 1)) {
      throw new IllegalArgumentException("fab-t: beta must be in (0,1], was " + beta);
    }
    this.steps = steps;
    this.targets = targets;
    this.restarts = restarts;
    this.alphaMax = alphaMax;
    this.eta = eta;
    this.beta = beta;
  }

  /** FAB-T with AutoAttack's alpha_max 0.1, eta 1.05, beta 0.9. */
  public FabTargeted(ThreatModel threat, int steps, int targets, int restarts, long seed) {
    this(threat, steps, targets, restarts, 0.1, 1.05, 0.9, seed);
  }

  @Override
  public String name() {
    return "fab-t-" + steps + "-t" + targets + (restarts > 1 ? "-x" + restarts : "");
  }

  @Override
  public Map<String, Object> settings() {
    Map<String, Object> s = baseSettings("fab-t", "Croce and Hein 2020 (FAB, targeted)");
    s.put("steps", steps);
    s.put("targets", targets);
    s.put("target_rule", "k-th largest clean logit, k = 2.." + (targets + 1));
    s.put("restarts", restarts);
    s.put("alpha_max", alphaMax);
    s.put("eta", eta);
    s.put("beta", beta);
    s.put("projection", "exact onto hyperplane and [0,1] box");
    s.put("gradient", "of z_t - z_y (logit-diff head), one call per iteration");
    s.put("success_check", "misclassified with norm <= eps; first such point returned");
    s.put("seed", seed);
    return s;
  }

  @Override
  protected void checkModel(GradientClassifier model) {
    ApgdTargeted.checkTargets("fab-t", model.numClasses(), targets, false);
  }

  @Override
  protected void attack(
      GradientClassifier model, ImageBatch x, int[] labels, long[] sampleIds, Candidates c) {
    int k = model.numClasses();
    int n = x.n();
    int per = x.imageSize();
    float[] x0 = x.data();
    float[] out = c.out;
    boolean[] success = c.success;
    int[] iteration = c.iteration;
    SplittableRandom[] rngs = generators(sampleIds);
    float[] clean = model.logits(x);
    int[][] ranked = ApgdTargeted.rankedClasses(clean, k, n);
    int still = 0;
    for (int i = 0; i < n; i++) {
      if (AbstractAttack.argmax(clean, k, i) != labels[i]) {
        success[i] = true;
        iteration[i] = 0;
      } else {
        still++;
      }
    }
    int[] active = new int[still];
    int q = 0;
    for (int i = 0; i < n; i++) {
      if (!success[i]) {
        active[q++] = i;
      }
    }
    for (int rank = 2; rank <= targets + 1 && active.length > 0; rank++) {
      for (int r = 0; r < restarts && active.length > 0; r++) {
        int base = ((rank - 2) * restarts + r) * steps;
        active =
            singleRun(
                model, x, labels, ranked, rank, r > 0, active, rngs, base, out, success, iteration,
                per);
      }
    }
  }

  private int[] singleRun(
      GradientClassifier model,
      ImageBatch x,
      int[] labels,
      int[][] ranked,
      int rank,
      boolean randomStart,
      int[] active,
      SplittableRandom[] rngs,
      int base,
      float[] out,
      boolean[] success,
      int[] iteration,
      int per) {
    Norm norm = threat.norm();
    double eps = threat.epsilon();
    int k = model.numClasses();
    int m = active.length;
    ImageBatch sub = x.select(active);
    float[] x0 = sub.data();
    int[] y = ApgdRun.pick(labels, active);
    int[] tg = new int[m];
    for (int j = 0; j < m; j++) {
      tg[j] = ranked[active[j]][rank - 1];
    }
    float[] x1 = x0.clone();
    if (randomStart) {
      for (int j = 0; j < m; j++) {
        ApgdRun.start(norm, eps / 2, rngs[active[j]], x0, x1, j * per, per);
      }
    }
    boolean[] done = new boolean[m];
    double[] bestNorm = new double[m];
    Arrays.fill(bestNorm, Double.POSITIVE_INFINITY);
    int[] live = ApgdRun.range(m);
    for (int t = 0; t < steps && live.length > 0; t++) {
      int[] rows = live;
      LossGradient g =
          model.lossGradient(
              sub.with(x1).select(rows),
              ApgdRun.pick(y, rows),
              ApgdRun.pick(tg, rows),
              LossHead.LOGIT_DIFF);
      IntStream.range(0, rows.length)
          .parallel()
          .forEach(
              l -> step(norm, x0, x1, g.losses()[l], g.gradient(), l * per, rows[l] * per, per));
      float[] z = model.logits(sub.with(x1).select(rows)); // the check of the new iterates
      for (int l = 0; l < rows.length; l++) {
        int j = rows[l];
        int o = j * per;
        if (AbstractAttack.argmax(z, k, l) == y[j]) {
          continue;
        }
        double dn = Projections.norm(norm, x0, x1, o, per);
        if (dn < bestNorm[j]) {
          bestNorm[j] = dn;
          if (dn <= eps) {
            done[j] = true;
            int i = active[j];
            success[i] = true;
            iteration[i] = base + t + 1;
            System.arraycopy(x1, o, out, i * per, per);
            continue;
          }
        }
        for (int q = 0; q < per; q++) {
          x1[o + q] = (float) (x0[o + q] + beta * ((double) x1[o + q] - x0[o + q]));
        }
      }
      live = notDone(live, done);
    }
    return ApgdRun.pick(active, notDone(ApgdRun.range(m), done));
  }

  /**
   * One FAB step of the sample at {@code [o, o+per)} of x1 and x0, whose {@code f = z_t - z_y} and
   * gradient w (at {@code [slopeOff, slopeOff+per)} of {@code slope}) were taken at x1: projects x1
   * and x0 onto the linearised boundary {@code f + <w, x' - x1> = 0} inside the box and moves x1 to
   * their biased, overshot combination, clipped to {@code [0,1]}.
   */
  private void step(
      Norm norm, float[] x0, float[] x1, double f, float[] slope, int slopeOff, int o, int per) {
    StepBuffers buf = STEP_BUFFERS.get().ensure(per);
    double[] p = buf.p;
    double[] p0 = buf.p0;
    double[] w = buf.w;
    double[] d1 = buf.d1;
    double[] d2 = buf.d2;
    double wx = 0;
    for (int q = 0; q < per; q++) {
      w[q] = slope[slopeOff + q];
      p[q] = x1[o + q];
      p0[q] = x0[o + q];
      wx += w[q] * (p0[q] - p[q]);
    }
    FabProjections.project(norm, p, w, -f, d1);
    FabProjections.project(norm, p0, w, -f - wx, d2);
    double a1 = Math.max(FabProjections.norm(norm, d1), 1e-8);
    double a2 = Math.max(FabProjections.norm(norm, d2), 1e-8);
    double alpha = Math.min(Math.max(a1 / (a1 + a2), 0), alphaMax);
    for (int q = 0; q < per; q++) {
      double v = (p[q] + eta * d1[q]) * (1 - alpha) + (p0[q] + eta * d2[q]) * alpha;
      x1[o + q] = (float) Math.min(1.0, Math.max(0.0, v));
    }
  }

  /**
   * Per-thread work arrays of {@link #step}: steps run in parallel over samples, and fresh arrays
   * per sample and iteration (tens of KB each) evicted the model's weights from the caches between
   * the ONNX Runtime calls.
   */
  private static final ThreadLocal<StepBuffers> STEP_BUFFERS =
      ThreadLocal.withInitial(StepBuffers::new);

  private static final class StepBuffers {
    double[] p = new double[0];
    double[] p0 = p;
    double[] w = p;
    double[] d1 = p;
    double[] d2 = p;

    StepBuffers ensure(int per) {
      if (p.length != per) {
        p = new double[per];
        p0 = new double[per];
        w = new double[per];
        d1 = new double[per];
        d2 = new double[per];
      }
      return this;
    }
  }

  /** The rows of {@code rows} not {@code done}, in order. */
  private static int[] notDone(int[] rows, boolean[] done) {
    int[] next = new int[rows.length];
    int c = 0;
    for (int j : rows) {
      if (!done[j]) {
        next[c++] = j;
      }
    }
    return Arrays.copyOf(next, c);
  }
}
