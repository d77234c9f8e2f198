package dev.arat.attack;

import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Square attack, a score-based black-box attack by random search (Andriushchenko, Croce, Flammarion
 * and Hein, "Square Attack: a query-efficient black-box adversarial attack via random search", ECCV
 * 2020), under Linf (reference/ATTACKS.md §10.6) or L2 (§10.7); arat's own Java implementation of
 * the protocol of AutoAttack's {@code square.py}. It minimises the margin {@code m = z_y -
 * max_{j!=y} z_j} and only queries {@link Classifier#logits}: the {@link GradientClassifier} in the
 * signature is the common attack interface, and no gradient is ever requested.
 *
 * <p><b>Linf.</b> Start: {@code clip(x + eps * s)}, s a random sign per (channel, column), constant
 * down each column (vertical stripes). Iteration i: side {@code s = max(1, round(sqrt(p(i) H W)))}
 * capped at {@code min(H, W)}; a window of that side at a uniformly drawn position; inside it every
 * channel is set to {@code clip(x + eps * sigma_c)}, sigma_c a random sign per channel; the
 * candidate replaces the best point if its margin is lower or {@code <= 0}.
 *
 * <p><b>L2.</b> Start: the image is tiled with windows of side {@code max(1, floor(min(H,W)/5))},
 * centred, each holding a "pseudo-Gaussian" bump (nested rectangles weighted {@code 1/(r+1)^2}, one
 * half positive and one negative, transposed with probability 1/2) times a random sign per channel;
 * the whole perturbation is scaled to norm eps and clipped. Iteration i: side {@code s = max(3,
 * round(sqrt(p(i) H W)))}, made odd, capped at {@code min(H, W)}; two windows are drawn; in window
 * 1 each channel's old content (normalised) plus a fresh bump times a random sign is rescaled to
 * norm {@code sqrt(max(eps^2 - ||delta||^2, 0)/C + ||delta on both windows||^2)}; window 2 is
 * zeroed (window 1 wins where they overlap); the perturbation is rescaled to norm eps and clipped.
 *
 * <p><b>Decisions</b> (the reference vectorises over the batch and so shares draws):
 *
 * <ul>
 *   <li><b>Draws per image.</b> Window positions, signs and transposes are drawn per image from
 *       that image's own generator {@link Seeds#forSample}{@code (seed, id)}, as the original
 *       Square repository does (AutoAttack's code shares one draw per iteration across the batch).
 *       Results are therefore identical under any batching, ordering or sharding. Restarts continue
 *       each sample's stream.
 *   <li><b>Offsets.</b> The window's top-left corner is uniform over <em>all</em> {@code H - s + 1}
 *       rows and {@code W - s + 1} columns; the reference's {@code floor(U (H - s))} never uses the
 *       last offset unless {@code s = H}. Exact parity is impossible anyway with another generator,
 *       so we fix the bias. Rectangular images: each side is drawn within its own range (as ART).
 *   <li><b>Rounding.</b> {@code round} is Python's: half to even ({@link Math#rint}), not {@link
 *       Math#round}. See {@link #sideLinf}.
 *   <li><b>Schedule.</b> {@link #pSchedule}: the reference's thresholds for a 10,000-query budget;
 *       with {@code rescaleSchedule} the iteration is first mapped to {@code floor(i * 10000 /
 *       queries)} (AutoAttack runs without rescaling and 5000 queries).
 *   <li><b>Queries.</b> One for the start point plus one per iteration while the sample's margin is
 *       positive, per restart; the iteration of a success is the number of queries it took, summed
 *       over restarts (so mean and median queries over successes come from {@link
 *       AttackResult#iteration()}).
 * </ul>
 *
 * <p>Samples never broken return their best (lowest-margin) point.
 */
public final class Square extends AbstractAttack {
  private final int queries;
  private final double pInit;
  private final int restarts;
  private final boolean rescaleSchedule;

  /**
   * Creates the attack.
   *
   * @param threat the budget (Linf or L2)
   * @param queries iterations (queries after the first) per restart, {@code > 0} (AutoAttack: 5000)
   * @param pInit the initial fraction of pixels changed, in {@code (0,1]} (AutoAttack: 0.8)
   * @param restarts runs on still-robust samples, {@code >= 1} (AutoAttack: 1)
   * @param rescaleSchedule whether the p schedule is stretched to {@code queries} (AutoAttack:
   *     false)
   * @param seed seed of the per-sample draws
   */
  public Square(
      ThreatModel threat,
      int queries,
      double pInit,
      int restarts,
      boolean rescaleSchedule,
      long seed) {
    super(threat, seed);
    if (queries <= 0) {
      throw new IllegalArgumentException("square: queries must be > 0, was " + queries);
    }
    if (!(pInit > 0 && pInit <= 1)) {
      throw new IllegalArgumentException("square: p_init must be in (0,1], was " + pInit);
    }
    if (restarts <= 0) {
      throw new IllegalArgumentException("square: restarts must be >= 1, was " + restarts);
    }
    this.queries = queries;
    this.pInit = pInit;
    this.restarts = restarts;
    this.rescaleSchedule = rescaleSchedule;
  }

  /**
   * The fraction p of pixels changed at iteration {@code i} (0-based): {@code pInit} up to 10, then
   * halved after 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 (the reference's thresholds for
   * a 10,000-query budget); with {@code rescale}, i is first mapped to {@code floor(i * 10000 /
   * queries)}.
   */
  public static double pSchedule(double pInit, int i, int queries, boolean rescale) {
    long it = rescale ? (long) i * 10000L / queries : i;
    int[] thresholds = {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000};
    double p = pInit;
    for (int th : thresholds) {
      if (it > th) {
        p /= 2;
      }
    }
    return p;
  }

  /** Python's {@code round}: the nearest integer, ties to even. */
  public static long roundHalfEven(double v) {
    return (long) Math.rint(v);
  }

  /**
   * Linf window side for fraction p: {@code max(1, round(sqrt(p H W)))} (half to even), capped at
   * {@code min(H,W)}.
   */
  public static int sideLinf(double p, int h, int w) {
    long s = Math.max(1, roundHalfEven(Math.sqrt(p * h * w)));
    return (int) Math.min(s, Math.min(h, w));
  }

  /**
   * L2 window side: {@code max(3, round(sqrt(p H W)))}, plus 1 if even, capped at {@code min(H,W)}.
   */
  public static int sideL2(double p, int h, int w) {
    long s = Math.max(3, roundHalfEven(Math.sqrt(p * h * w)));
    if (s % 2 == 0) {
      s++;
    }
    return (int) Math.min(s, Math.min(h, w));
  }

  @Override
  public String name() {
    return "square-" + queries + (restarts > 1 ? "-x" + restarts : "");
  }

  @Override
  public Map<String, Object> settings() {
    Map<String, Object> s = baseSettings("square", "Andriushchenko et al. 2020 (Square Attack)");
    s.put("queries", queries);
    s.put("p_init", pInit);
    s.put("restarts", restarts);
    s.put("rescale_schedule", rescaleSchedule);
    s.put("loss", "margin");
    s.put("draws", "per image from its own generator");
    s.put("offsets", "uniform over all H-s+1 x W-s+1 positions");
    s.put("rounding", "half to even (as Python)");
    s.put("query_count", "1 + 1 per iteration while not broken, summed over restarts");
    s.put("seed", seed);
    return s;
  }

  @Override
  protected void attack(
      GradientClassifier model, ImageBatch x, int[] labels, long[] sampleIds, Candidates c) {
    int n = x.n();
    int per = x.imageSize();
    float[] x0 = x.data();
    float[] out = c.out;
    boolean[] success = c.success;
    int[] iteration = c.iteration;
    int[] used = new int[n];
    SplittableRandom[] rngs = generators(sampleIds);
    double[] bestMargin = new double[n];
    Arrays.fill(bestMargin, Double.POSITIVE_INFINITY);
    int[] active = ApgdRun.range(n);
    for (int r = 0; r < restarts && active.length > 0; r++) {
      active =
          singleRun(model, x, labels, active, rngs, out, bestMargin, used, success, iteration, per);
    }
  }

  private int[] singleRun(
      Classifier model,
      ImageBatch x,
      int[] labels,
      int[] active,
      SplittableRandom[] rngs,
      float[] out,
      double[] bestMargin,
      int[] used,
      boolean[] success,
      int[] iteration,
      int per) {
    int m = active.length;
    int c = x.c();
    int h = x.h();
    int w = x.w();
    double eps = threat.epsilon();
    float[] x0 = x.data();
    // best point of this run, per active sample, as (m, per)
    float[] best = new float[m * per];
    for (int j = 0; j < m; j++) {
      int i = active[j];
      if (threat.norm() == Norm.LINF) {
        initLinf(rngs[i], x0, i * per, best, j * per, c, h, w, eps);
      } else {
        initL2(rngs[i], x0, i * per, best, j * per, c, h, w, eps);
      }
    }
    int[] y = ApgdRun.pick(labels, active);
    float[] margin =
        LossHeads.margin(model.logits(new ImageBatch(best, m, c, h, w)), model.numClasses(), y);
    double[] mBest = new double[m];
    int[] q = new int[m];
    boolean[] done = new boolean[m];
    for (int j = 0; j < m; j++) {
      mBest[j] = margin[j];
      q[j] = 1;
      done[j] = margin[j] <= 0;
    }
    int[] live = liveOf(done);
    for (int it = 0; it < queries && live.length > 0; it++) {
      double p = pSchedule(pInit, it, queries, rescaleSchedule);
      float[] batch = new float[live.length * per];
      for (int l = 0; l < live.length; l++) {
        int j = live[l];
        int i = active[j];
        if (threat.norm() == Norm.LINF) {
          stepLinf(
              rngs[i], x0, i * per, best, j * per, batch, l * per, c, h, w, eps, sideLinf(p, h, w));
        } else {
          stepL2(
              rngs[i], x0, i * per, best, j * per, batch, l * per, c, h, w, eps, sideL2(p, h, w));
        }
      }
      int[] yl = ApgdRun.pick(y, live);
      float[] mNew =
          LossHeads.margin(
              model.logits(new ImageBatch(batch, live.length, c, h, w)), model.numClasses(), yl);
      for (int l = 0; l < live.length; l++) {
        int j = live[l];
        q[j]++;
        if (mNew[l] < mBest[j] || mNew[l] <= 0) {
          mBest[j] = mNew[l];
          System.arraycopy(batch, l * per, best, j * per, per);
          if (mNew[l] <= 0) {
            done[j] = true;
          }
        }
      }
      live = liveOf(done);
    }
    int still = 0;
    for (int j = 0; j < m; j++) {
      int i = active[j];
      used[i] += q[j];
      if (done[j]) {
        success[i] = true;
        iteration[i] = used[i];
        System.arraycopy(best, j * per, out, i * per, per);
      } else {
        still++;
        if (mBest[j] < bestMargin[i]) {
          bestMargin[i] = mBest[j];
          System.arraycopy(best, j * per, out, i * per, per);
        }
      }
    }
    int[] next = new int[still];
    int k = 0;
    for (int j = 0; j < m; j++) {
      if (!done[j]) {
        next[k++] = active[j];
      }
    }
    return next;
  }

  private static int[] liveOf(boolean[] done) {
    int c = 0;
    for (boolean d : done) {
      c += d ? 0 : 1;
    }
    int[] out = new int[c];
    int q = 0;
    for (int j = 0; j < done.length; j++) {
      if (!done[j]) {
        out[q++] = j;
      }
    }
    return out;
  }

  private static float clip01(double v) {
    return (float) Math.min(1.0, Math.max(0.0, v));
  }

  /** Vertical stripes: a sign per (channel, column), then clip. */
  private static void initLinf(
      SplittableRandom rng,
      float[] x0,
      int o0,
      float[] dst,
      int od,
      int c,
      int h,
      int w,
      double eps) {
    for (int ch = 0; ch < c; ch++) {
      for (int col = 0; col < w; col++) {
        double sgn = rng.nextBoolean() ? 1 : -1;
        for (int row = 0; row < h; row++) {
          int j = (ch * h + row) * w + col;
          dst[od + j] = clip01(x0[o0 + j] + eps * sgn);
        }
      }
    }
  }

  /** Copies the best point and sets one window, per channel, to {@code clip(x + eps * sigma_c)}. */
  private static void stepLinf(
      SplittableRandom rng,
      float[] x0,
      int o0,
      float[] best,
      int ob,
      float[] dst,
      int od,
      int c,
      int h,
      int w,
      double eps,
      int s) {
    int per = c * h * w;
    System.arraycopy(best, ob, dst, od, per);
    int r0 = rng.nextInt(h - s + 1);
    int c0 = rng.nextInt(w - s + 1);
    for (int ch = 0; ch < c; ch++) {
      double sgn = rng.nextBoolean() ? 1 : -1;
      for (int row = r0; row < r0 + s; row++) {
        for (int col = c0; col < c0 + s; col++) {
          int j = (ch * h + row) * w + col;
          dst[od + j] = clip01(x0[o0 + j] + eps * sgn);
        }
      }
    }
  }

  /**
   * Nested rectangles centred at {@code (a/2, b/2)} on an {@code a x b} grid: rectangle r (side
   * {@code 2r+1}, clipped to the grid) adds {@code 1/(r+1)^2}; normalised to unit L2 norm.
   */
  static double[] rectangles(int a, int b) {
    double[] d = new double[a * b];
    if (a == 0 || b == 0) {
      return d;
    }
    int ca = a / 2;
    int cb = b / 2;
    int rounds = Math.max(a / 2 + 1, b / 2 + 1);
    for (int r = 0; r < rounds; r++) {
      double v = 1.0 / ((r + 1.0) * (r + 1.0));
      for (int i = Math.max(ca - r, 0); i < Math.min(ca - r + 2 * r + 1, a); i++) {
        for (int j = Math.max(cb - r, 0); j < Math.min(cb - r + 2 * r + 1, b); j++) {
          d[i * b + j] += v;
        }
      }
    }
    return normalise(d);
  }

  /**
   * The initial bump of side {@code s}: the top {@code s/2} rows a positive rectangle bump, the
   * rest a negative one, normalised; transposed when {@code transpose}.
   */
  static double[] pseudoGaussian(int s, boolean transpose) {
    double[] d = new double[s * s];
    int top = s / 2;
    double[] up = rectangles(top, s);
    double[] down = rectangles(s - top, s);
    System.arraycopy(up, 0, d, 0, up.length);
    for (int j = 0; j < down.length; j++) {
      d[top * s + j] = -down[j];
    }
    normalise(d);
    if (transpose) {
      double[] t = new double[s * s];
      for (int i = 0; i < s; i++) {
        for (int j = 0; j < s; j++) {
          t[j * s + i] = d[i * s + j];
        }
      }
      return t;
    }
    return d;
  }

  private static double[] normalise(double[] d) {
    double sq = 0;
    for (double v : d) {
      sq += v * v;
    }
    double n = Math.sqrt(sq);
    if (n > 0) {
      for (int i = 0; i < d.length; i++) {
        d[i] /= n;
      }
    }
    return d;
  }

  /** Writes {@code clip(x + eps * delta/||delta||_2)} (no change where delta is all zero). */
  private static void applyL2(float[] x0, int o0, double[] delta, float[] dst, int od, double eps) {
    double sq = 0;
    for (double v : delta) {
      sq += v * v;
    }
    double scale = eps / (Math.sqrt(sq) + 1e-12);
    for (int j = 0; j < delta.length; j++) {
      dst[od + j] = clip01(x0[o0 + j] + delta[j] * scale);
    }
  }

  private static void initL2(
      SplittableRandom rng,
      float[] x0,
      int o0,
      float[] dst,
      int od,
      int c,
      int h,
      int w,
      double eps) {
    int s = Math.max(1, Math.min(h, w) / 5);
    int rows = h / s;
    int cols = w / s;
    int spH = (h - s * rows) / 2;
    int spW = (w - s * cols) / 2;
    double[] delta = new double[c * h * w];
    for (int wr = 0; wr < rows; wr++) {
      for (int wc = 0; wc < cols; wc++) {
        double[] bump = pseudoGaussian(s, rng.nextBoolean());
        for (int ch = 0; ch < c; ch++) {
          double sgn = rng.nextBoolean() ? 1 : -1;
          for (int a = 0; a < s; a++) {
            for (int b = 0; b < s; b++) {
              int j = (ch * h + spH + wr * s + a) * w + spW + wc * s + b;
              delta[j] += sgn * bump[a * s + b];
            }
          }
        }
      }
    }
    applyL2(x0, o0, delta, dst, od, eps);
  }

  private static void stepL2(
      SplittableRandom rng,
      float[] x0,
      int o0,
      float[] best,
      int ob,
      float[] dst,
      int od,
      int c,
      int h,
      int w,
      double eps,
      int s) {
    int per = c * h * w;
    double[] delta = new double[per];
    double normImage = 0;
    for (int j = 0; j < per; j++) {
      delta[j] = (double) best[ob + j] - x0[o0 + j];
      normImage += delta[j] * delta[j];
    }
    int r1 = rng.nextInt(h - s + 1);
    int c1 = rng.nextInt(w - s + 1);
    int r2 = rng.nextInt(h - s + 1);
    int c2 = rng.nextInt(w - s + 1);
    // squared norm of delta over the union of both windows
    double normWindows = 0;
    for (int ch = 0; ch < c; ch++) {
      for (int row = 0; row < h; row++) {
        for (int col = 0; col < w; col++) {
          boolean in1 = row >= r1 && row < r1 + s && col >= c1 && col < c1 + s;
          boolean in2 = row >= r2 && row < r2 + s && col >= c2 && col < c2 + s;
          if (in1 || in2) {
            double v = delta[(ch * h + row) * w + col];
            normWindows += v * v;
          }
        }
      }
    }
    double target = Math.sqrt(Math.max(eps * eps - normImage, 0) / c + normWindows);
    double[] bump = rectangles(s, s);
    double[][] fresh = new double[c][s * s];
    for (int ch = 0; ch < c; ch++) {
      double sgn = rng.nextBoolean() ? 1 : -1;
      double old = 0;
      for (int a = 0; a < s; a++) {
        for (int b = 0; b < s; b++) {
          double v = delta[(ch * h + r1 + a) * w + c1 + b];
          old += v * v;
        }
      }
      old = Math.sqrt(old);
      double sq = 0;
      for (int a = 0; a < s; a++) {
        for (int b = 0; b < s; b++) {
          double v = sgn * bump[a * s + b] + delta[(ch * h + r1 + a) * w + c1 + b] / (1e-12 + old);
          fresh[ch][a * s + b] = v;
          sq += v * v;
        }
      }
      double scale = target / (1e-12 + Math.sqrt(sq));
      for (int q = 0; q < s * s; q++) {
        fresh[ch][q] *= scale;
      }
    }
    for (int ch = 0; ch < c; ch++) {
      for (int a = 0; a < s; a++) {
        for (int b = 0; b < s; b++) {
          delta[(ch * h + r2 + a) * w + c2 + b] = 0;
        }
      }
    }
    for (int ch = 0; ch < c; ch++) {
      for (int a = 0; a < s; a++) {
        for (int b = 0; b < s; b++) {
          delta[(ch * h + r1 + a) * w + c1 + b] = fresh[ch][a * s + b];
        }
      }
    }
    applyL2(x0, o0, delta, dst, od, eps);
  }
}
