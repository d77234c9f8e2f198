package dev.arat.attack;

import dev.arat.specs.LossHead;
import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Projected gradient descent (Madry, Makelov, Schmidt, Tsipras and Vladu, "Towards Deep Learning
 * Models Resistant to Adversarial Attacks", ICLR 2018), under Linf or L2.
 *
 * <p>Each run starts at the clean input or, with {@code randomStart}, at a random point of the ball
 * (Linf: uniform in the cube; L2: uniform in the ball, i.e. a normalised Gaussian direction and
 * radius {@code eps * U^(1/d)}), clipped to {@code [0,1]}. Each of the {@code steps} iterations
 * ascends the loss head by {@code stepSize} (Linf: {@code sign(grad)}; L2: {@code grad/||grad||_2})
 * and projects onto the ball and {@code [0,1]} (see {@link Projections}).
 *
 * <p>Randomness is per sample: the draws of sample {@code id} come from one generator seeded by
 * {@link Seeds#forSample}{@code (seed, id)}, and restarts continue that sample's stream, so results
 * do not depend on batch composition or order. The first run of {@link #run} equals {@link
 * #perturb}.
 */
public final class Pgd extends AbstractAttack {
  private final int steps;
  private final double stepSize;
  private final int restarts;
  private final LossHead loss;
  private final boolean randomStart;

  /**
   * Creates the attack.
   *
   * @param threat the budget (Linf or L2), epsilon in {@code [0,1]} pixel units
   * @param steps iterations per run, {@code > 0}
   * @param stepSize step length in pixel units, {@code > 0} (Linf: per pixel; L2: of the whole
   *     step)
   * @param restarts independent runs in {@link #run}, {@code >= 1} (ignored by {@link #perturb})
   * @param loss an untargeted loss head to ascend: CE, MARGIN or DLR (DLR needs K >= 3)
   * @param randomStart whether each run starts at a random point of the ball
   * @param seed seed of the random starts
   */
  public Pgd(
      ThreatModel threat,
      int steps,
      double stepSize,
      int restarts,
      LossHead loss,
      boolean randomStart,
      long seed) {
    super(threat, seed);
    if (steps <= 0) {
      throw new IllegalArgumentException("pgd: steps must be > 0, was " + steps);
    }
    if (!(stepSize > 0) || Double.isInfinite(stepSize)) {
      throw new IllegalArgumentException("pgd: step size must be > 0, was " + stepSize);
    }
    if (restarts <= 0) {
      throw new IllegalArgumentException("pgd: restarts must be >= 1, was " + restarts);
    }
    if (loss == null || loss.targeted()) {
      throw new IllegalArgumentException(
          "pgd: loss must be an untargeted head (ce, margin, dlr), was " + loss);
    }
    this.steps = steps;
    this.stepSize = stepSize;
    this.restarts = restarts;
    this.loss = loss;
    this.randomStart = randomStart;
  }

  /** Iterations per run. */
  public int steps() {
    return steps;
  }

  /** Step length in pixel units. */
  public double stepSize() {
    return stepSize;
  }

  /** Runs in {@link #run}. */
  public int restarts() {
    return restarts;
  }

  /** The loss head ascended. */
  public LossHead loss() {
    return loss;
  }

  /** Whether runs start at a random point of the ball. */
  public boolean randomStart() {
    return randomStart;
  }

  @Override
  public String name() {
    return "pgd-" + steps + "-" + loss.id() + (restarts > 1 ? "-x" + restarts : "");
  }

  @Override
  public Map<String, Object> settings() {
    Map<String, Object> s = baseSettings("pgd", "Madry et al. 2018");
    s.put("steps", steps);
    s.put("step_size", stepSize);
    s.put("restarts", restarts);
    s.put("loss", loss.id());
    s.put("random_start", randomStart);
    s.put(
        "random_start_distribution",
        !randomStart
            ? "none"
            : threat.norm() == Norm.LINF ? "uniform in the Linf ball" : "uniform in the L2 ball");
    s.put("step_rule", threat.norm() == Norm.LINF ? "sign(grad)" : "grad/||grad||_2");
    s.put("success_check", "every iterate, first misclassified iterate returned");
    s.put("seed", seed);
    return s;
  }

  /**
   * One run; returns the <em>last</em> iterate (what adversarial training uses). Random start as
   * configured, then {@code steps} ascent steps, each followed by the projection.
   *
   * @param model the attacked model
   * @param x clean images, float32 {@code (N,C,H,W)} in {@code [0,1]}
   * @param labels true classes {@code (N)}
   * @param sampleIds a stable id per sample {@code (N)} seeding its random start
   * @return the last iterates, {@code (N,C,H,W)}, within the budget and in {@code [0,1]}
   */
  public ImageBatch perturb(
      GradientClassifier model, ImageBatch x, int[] labels, long[] sampleIds) {
    checkInputs(model, x, labels, sampleIds);
    int n = x.n();
    int per = x.imageSize();
    float[] x0 = x.data();
    float[] cur = x0.clone();
    if (n == 0) {
      return x.with(cur);
    }
    SplittableRandom[] rngs = generators(sampleIds);
    if (randomStart) {
      for (int i = 0; i < n; i++) {
        randomStart(rngs[i], x0, cur, i * per, per);
      }
    }
    float[][] box = threat.norm() == Norm.LINF ? linfBox(threat.epsilon(), x0) : null;
    for (int t = 0; t < steps; t++) {
      LossGradient g = model.lossGradient(x.with(cur), labels, null, loss);
      for (int i = 0; i < n; i++) {
        if (box != null) {
          linfStep(stepSize, cur, g.gradient(), i * per, x0, box, i * per, per);
        } else {
          ascend(threat.norm(), stepSize, cur, g.gradient(), i * per, i * per, per);
          Projections.project(threat.norm(), threat.epsilon(), x0, cur, i * per, per);
        }
      }
    }
    return x.with(cur);
  }

  /**
   * Evaluation: up to {@code restarts} runs, each on the samples still robust. Every iterate
   * (including the start and the last one) is checked with the logits the model returns; per sample
   * the result is the first misclassified iterate found, otherwise the last iterate of the last
   * run. The iteration of a success counts gradient steps spent on that sample over all runs:
   * {@code run * steps + t} for iterate {@code t} of run {@code run} (0 is the start point).
   *
   * @param model the attacked model
   * @param x clean images, float32 {@code (N,C,H,W)} in {@code [0,1]}
   * @param labels true classes {@code (N)}
   * @param sampleIds a stable id per sample {@code (N)} seeding its random starts
   * @return candidates, success flags and iterations of first success (or -1)
   */
  @Override
  protected void attack(
      GradientClassifier model, ImageBatch x, int[] labels, long[] sampleIds, Candidates c) {
    int n = x.n();
    int per = x.imageSize();
    int k = model.numClasses();
    float[] x0 = x.data();
    float[] out = c.out;
    boolean[] success = c.success;
    int[] iteration = c.iteration;
    SplittableRandom[] rngs = generators(sampleIds);
    int[] active = range(n);
    for (int r = 0; r < restarts && active.length > 0; r++) {
      int m = active.length;
      ImageBatch sub = x.select(active);
      float[] s0 = sub.data();
      float[] cur = s0.clone();
      float[][] box = threat.norm() == Norm.LINF ? linfBox(threat.epsilon(), s0) : null;
      int[] subLabels = new int[m];
      for (int j = 0; j < m; j++) {
        subLabels[j] = labels[active[j]];
        if (randomStart) {
          randomStart(rngs[active[j]], s0, cur, j * per, per);
        }
      }
      boolean[] found = new boolean[m];
      int[] live = range(m);
      for (int t = 0; t <= steps && live.length > 0; t++) {
        ImageBatch liveBatch = live.length == m ? sub.with(cur) : sub.with(cur).select(live);
        int[] liveLabels = new int[live.length];
        for (int j = 0; j < live.length; j++) {
          liveLabels[j] = subLabels[live[j]];
        }
        LossGradient g = null;
        float[] logits;
        if (t < steps) {
          g = model.lossGradient(liveBatch, liveLabels, null, loss);
          logits = g.logits();
        } else {
          logits = model.logits(liveBatch);
        }
        int stillLive = 0;
        for (int j = 0; j < live.length; j++) {
          int s = live[j];
          if (argmax(logits, k, j) != liveLabels[j]) {
            found[s] = true;
            int orig = active[s];
            success[orig] = true;
            iteration[orig] = r * steps + t;
            System.arraycopy(cur, s * per, out, orig * per, per);
          } else {
            stillLive++;
          }
        }
        if (t == steps) {
          break;
        }
        int[] next = new int[stillLive];
        int q = 0;
        for (int j = 0; j < live.length; j++) {
          int s = live[j];
          if (!found[s]) {
            if (box != null) {
              linfStep(stepSize, cur, g.gradient(), j * per, s0, box, s * per, per);
            } else {
              ascend(threat.norm(), stepSize, cur, g.gradient(), j * per, s * per, per);
              Projections.project(threat.norm(), threat.epsilon(), s0, cur, s * per, per);
            }
            next[q++] = s;
          }
        }
        live = next;
      }
      int still = 0;
      for (int j = 0; j < m; j++) {
        if (!found[j]) {
          System.arraycopy(cur, j * per, out, active[j] * per, per);
          still++;
        }
      }
      int[] nextActive = new int[still];
      int q = 0;
      for (int j = 0; j < m; j++) {
        if (!found[j]) {
          nextActive[q++] = active[j];
        }
      }
      active = nextActive;
    }
  }

  private static int[] range(int n) {
    int[] r = new int[n];
    for (int i = 0; i < n; i++) {
      r[i] = i;
    }
    return r;
  }
}
