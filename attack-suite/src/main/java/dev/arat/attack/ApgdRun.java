package dev.arat.attack;

import dev.arat.specs.LossHead;
import dev.arat.specs.Norm;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One run of APGD (Croce and Hein, ICML 2020; reference/ATTACKS.md §10.2) over a batch, shared by
 * {@link Apgd} and {@link ApgdTargeted}. Every quantity (step size, counters, best points, losses)
 * is kept per sample, and each sample's random start is drawn from its own generator, so a sample's
 * trajectory never depends on the rest of the batch.
 *
 * <p>Deviations from the reference code, each without effect on which samples break:
 *
 * <ul>
 *   <li>A sample stops iterating at its first misclassified iterate, which is returned. The
 *       reference keeps iterating and returns the last misclassified iterate; since samples are
 *       independent, the set of samples broken is the same, and the gradient calls are saved.
 *   <li>Condition 1 compares each of the last {@code h} iterates with the one before it; for the
 *       very first step that is the start point {@code x^0} (the reference compares with an unset
 *       entry of its loss buffer, i.e. with 0).
 * </ul>
 */
final class ApgdRun {
  /** Momentum weight a for k >= 1 (a = 1 at the first step). */
  static final double MOMENTUM = 0.75;

  private ApgdRun() {}

  /**
   * The iterations after which APGD checks its step size, for a budget of {@code n} iterations: the
   * interval starts at {@code max(floor(0.22 n), 1)}, shrinks by {@code max(floor(0.03 n), 1)}
   * after each check and never falls below {@code max(floor(0.06 n), 1)} — the reference code's
   * rule. A value {@code c} means "after {@code c} gradient steps", i.e. at 0-based loop index
   * {@code c - 1}. For n = 100: 22, 41, 57, 70, 80, 87, 93, 99.
   */
  static int[] checkpoints(int n) {
    List<Integer> out = new ArrayList<>();
    int h = Math.max((int) (0.22 * n), 1);
    int decr = Math.max((int) (0.03 * n), 1);
    int floor = Math.max((int) (0.06 * n), 1);
    int at = 0;
    while (at + h <= n) {
      at += h;
      out.add(at);
      h = Math.max(h - decr, floor);
    }
    return out.stream().mapToInt(Integer::intValue).toArray();
  }

  /**
   * Runs APGD once on every sample of {@code x}.
   *
   * @param model the attacked model (already wrapped for EoT if needed)
   * @param norm Linf or L2
   * @param eps the radius
   * @param steps N, the iteration budget
   * @param rho the Condition-1 threshold (0.75)
   * @param x clean images {@code (m,C,H,W)} in {@code [0,1]}
   * @param labels true classes {@code (m)}
   * @param targets target classes {@code (m)} for a targeted head, else null
   * @param head the loss head ascended
   * @param rngs one generator per sample (continued, not reset)
   * @param out receives per sample the first misclassified iterate, or the highest-loss iterate
   *     (x_best) when none was found; {@code m * C*H*W} values
   * @return per sample the number of steps taken at the first misclassified iterate (0 = start
   *     point), or -1
   */
  static int[] run(
      GradientClassifier model,
      Norm norm,
      double eps,
      int steps,
      double rho,
      ImageBatch x,
      int[] labels,
      int[] targets,
      LossHead head,
      SplittableRandom[] rngs,
      float[] out) {
    int m = x.n();
    int per = x.imageSize();
    int k = model.numClasses();
    float[] x0 = x.data();
    float[] cur = new float[m * per];
    for (int i = 0; i < m; i++) {
      start(norm, eps, rngs[i], x0, cur, i * per, per);
    }
    float[] prev = cur.clone();
    float[] xBest = cur.clone();
    float[] grad = new float[m * per];
    float[] gBest = new float[m * per];
    double[] lossBest = new double[m];
    double[] lossPrev = new double[m];
    double[] lossBestLastCheck = new double[m];
    boolean[] reducedLastCheck = new boolean[m];
    double[] step = new double[m];
    int[] increases = new int[m];
    int[] found = new int[m];
    java.util.Arrays.fill(found, -1);
    java.util.Arrays.fill(step, 2 * eps);
    java.util.Arrays.fill(reducedLastCheck, true);

    int[] live = range(m);
    // the start point
    live =
        evaluate(model, x, cur, labels, targets, head, live, k, per, grad, lossPrev, found, 0, out);
    for (int i : range(m)) {
      lossBest[i] = lossPrev[i];
      lossBestLastCheck[i] = lossPrev[i];
    }
    System.arraycopy(grad, 0, gBest, 0, grad.length);

    int h = Math.max((int) (0.22 * steps), 1);
    int decr = Math.max((int) (0.03 * steps), 1);
    int floor = Math.max((int) (0.06 * steps), 1);
    int sinceCheck = 0;
    double[] loss = new double[m];
    float[] z = new float[per];
    for (int t = 0; t < steps && live.length > 0; t++) {
      double a = t == 0 ? 1.0 : MOMENTUM;
      for (int s : live) {
        int off = s * per;
        // z = P(x + eta * dir(g))
        System.arraycopy(cur, off, z, 0, per);
        AbstractAttack.ascend(norm, step[s], z, grad, off, 0, per);
        projectInto(norm, eps, x0, z, off, per);
        // x_new = P(x + a (z - x) + (1 - a)(x - x_prev))
        for (int j = 0; j < per; j++) {
          double xc = cur[off + j];
          double v = xc + a * (z[j] - xc) + (1 - a) * (xc - prev[off + j]);
          prev[off + j] = (float) xc;
          cur[off + j] = (float) v;
        }
        Projections.project(norm, eps, x0, cur, off, per);
      }
      int[] before = live;
      live =
          evaluate(
              model, x, cur, labels, targets, head, live, k, per, grad, loss, found, t + 1, out);
      sinceCheck++;
      boolean check = sinceCheck == h;
      for (int s : before) {
        if (found[s] >= 0) {
          continue;
        }
        if (loss[s] > lossPrev[s]) {
          increases[s]++;
        }
        lossPrev[s] = loss[s];
        if (loss[s] > lossBest[s]) {
          lossBest[s] = loss[s];
          System.arraycopy(cur, s * per, xBest, s * per, per);
          System.arraycopy(grad, s * per, gBest, s * per, per);
        }
        if (check) {
          boolean oscillation = increases[s] <= rho * h;
          boolean noImprovement = !reducedLastCheck[s] && lossBestLastCheck[s] >= lossBest[s];
          boolean reduce = oscillation || noImprovement;
          reducedLastCheck[s] = reduce;
          lossBestLastCheck[s] = lossBest[s];
          if (reduce) {
            step[s] /= 2;
            System.arraycopy(xBest, s * per, cur, s * per, per);
            System.arraycopy(gBest, s * per, grad, s * per, per);
          }
          increases[s] = 0;
        }
      }
      if (check) {
        h = Math.max(h - decr, floor);
        sinceCheck = 0;
      }
    }
    for (int s = 0; s < m; s++) {
      if (found[s] < 0) {
        System.arraycopy(xBest, s * per, out, s * per, per);
      }
    }
    return found;
  }

  /**
   * Projects {@code z} (one image, indices {@code 0..per}) around image {@code [off, off+per)} of
   * {@code x0}.
   */
  private static void projectInto(Norm norm, double eps, float[] x0, float[] z, int off, int per) {
    if (norm == Norm.LINF) {
      for (int j = 0; j < per; j++) {
        double lo = Math.max(0.0, x0[off + j] - eps);
        double hi = Math.min(1.0, x0[off + j] + eps);
        z[j] = (float) Math.min(hi, Math.max(lo, z[j]));
      }
    } else {
      double sq = 0;
      for (int j = 0; j < per; j++) {
        double d = (double) z[j] - x0[off + j];
        sq += d * d;
      }
      double nrm = Math.sqrt(sq);
      double scale = nrm > eps ? eps / nrm : 1.0;
      for (int j = 0; j < per; j++) {
        double v = x0[off + j] + ((double) z[j] - x0[off + j]) * scale;
        z[j] = (float) Math.min(1.0, Math.max(0.0, v));
      }
    }
  }

  /**
   * The start point: on the sphere of radius eps (Linf: scaled uniform cube draw; L2: Gaussian),
   * clipped.
   */
  static void start(
      Norm norm, double eps, SplittableRandom rng, float[] x0, float[] x, int off, int per) {
    double[] t = new double[per];
    double nrm = 0;
    for (int j = 0; j < per; j++) {
      if (norm == Norm.LINF) {
        t[j] = 2 * rng.nextDouble() - 1;
        nrm = Math.max(nrm, Math.abs(t[j]));
      } else {
        t[j] = AbstractAttack.gaussian(rng);
        nrm += t[j] * t[j];
      }
    }
    if (norm == Norm.L2) {
      nrm = Math.sqrt(nrm);
    }
    double scale = nrm > 0 ? eps / nrm : 0;
    for (int j = 0; j < per; j++) {
      x[off + j] = (float) (x0[off + j] + scale * t[j]);
    }
    Projections.project(norm, eps, x0, x, off, per);
  }

  /**
   * Queries loss, gradient and prediction at {@code cur} for the {@code live} samples; stores their
   * gradients and losses, marks and copies out the misclassified ones and returns the rest.
   */
  private static int[] evaluate(
      GradientClassifier model,
      ImageBatch x,
      float[] cur,
      int[] labels,
      int[] targets,
      LossHead head,
      int[] live,
      int k,
      int per,
      float[] grad,
      double[] loss,
      int[] found,
      int t,
      float[] out) {
    ImageBatch batch = x.with(cur).select(live);
    int[] y = new int[live.length];
    int[] tg = targets == null ? null : new int[live.length];
    for (int j = 0; j < live.length; j++) {
      y[j] = labels[live[j]];
      if (tg != null) {
        tg[j] = targets[live[j]];
      }
    }
    LossGradient g = model.lossGradient(batch, y, tg, head);
    int still = 0;
    for (int j = 0; j < live.length; j++) {
      int s = live[j];
      System.arraycopy(g.gradient(), j * per, grad, s * per, per);
      loss[s] = g.losses()[j];
      if (AbstractAttack.argmax(g.logits(), k, j) != y[j]) {
        found[s] = t;
        System.arraycopy(cur, s * per, out, s * per, per);
      } else {
        still++;
      }
    }
    int[] next = new int[still];
    int q = 0;
    for (int s : live) {
      if (found[s] < 0) {
        next[q++] = s;
      }
    }
    return next;
  }

  /**
   * One APGD run on the {@code active} rows of {@code x}; writes the candidates of broken samples
   * (and x_best of the others) into {@code out}, marks successes with iteration {@code
   * iterationBase + t}, and returns the rows still robust.
   */
  static int[] runOn(
      GradientClassifier m,
      Norm norm,
      double eps,
      int steps,
      double rho,
      ImageBatch x,
      int[] labels,
      int[] targets,
      LossHead head,
      int[] active,
      SplittableRandom[] rngs,
      int iterationBase,
      float[] out,
      boolean[] success,
      int[] iteration) {
    int per = x.imageSize();
    ImageBatch sub = x.select(active);
    int[] y = pick(labels, active);
    int[] t = targets == null ? null : pick(targets, active);
    SplittableRandom[] g = new SplittableRandom[active.length];
    for (int j = 0; j < active.length; j++) {
      g[j] = rngs[active[j]];
    }
    float[] subOut = new float[sub.data().length];
    int[] found = run(m, norm, eps, steps, rho, sub, y, t, head, g, subOut);
    int still = 0;
    for (int j = 0; j < active.length; j++) {
      int i = active[j];
      System.arraycopy(subOut, j * per, out, i * per, per);
      if (found[j] >= 0) {
        success[i] = true;
        iteration[i] = iterationBase + found[j];
      } else {
        still++;
      }
    }
    int[] next = new int[still];
    int q = 0;
    for (int j = 0; j < active.length; j++) {
      if (found[j] < 0) {
        next[q++] = active[j];
      }
    }
    return next;
  }

  /** {@code a[rows[i]]} for each i. */
  static int[] pick(int[] a, int[] rows) {
    int[] o = new int[rows.length];
    for (int i = 0; i < rows.length; i++) {
      o[i] = a[rows[i]];
    }
    return o;
  }

  static int[] range(int n) {
    int[] r = new int[n];
    for (int i = 0; i < n; i++) {
      r[i] = i;
    }
    return r;
  }
}
