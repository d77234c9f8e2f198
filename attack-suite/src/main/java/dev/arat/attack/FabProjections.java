package dev.arat.attack;

import dev.arat.specs.Norm;

/**
 * Exact projections onto a hyperplane intersected with the box {@code [0,1]^d}, as FAB needs them
 * (Croce and Hein, "Minimally distorted adversarial examples with a fast adaptive boundary attack",
 * ICML 2020): for a point p, a normal w and a value c, the displacement d of smallest norm with
 * {@code <w, d> = c} and {@code 0 <= p + d <= 1}.
 *
 * <p>Let {@code w' = sign(c) w} and {@code cap_j} be how far p_j can move in the direction of
 * {@code sign(w'_j)} ({@code 1 - p_j} up, {@code p_j} down). The optimum moves each coordinate in
 * that direction:
 *
 * <ul>
 *   <li>Linf: {@code d_j = sign(w'_j) min(t, cap_j)}, t solving {@code sum |w_j| min(t, cap_j) =
 *       |c|}.
 *   <li>L2: {@code d_j = sign(w'_j) min(lambda |w_j|, cap_j)}, lambda solving {@code sum |w_j|
 *       min(lambda |w_j|, cap_j) = |c|} (the KKT point of the box-constrained least norm problem).
 * </ul>
 *
 * Both left-hand sides are non-decreasing and piecewise linear, so the root is found exactly by
 * locating it between two consecutive breakpoints: by selection over the breakpoints (a pivot's
 * reach tells on which side the root lies), which needs no sort. When the hyperplane cannot be
 * reached inside the box, the result is the box corner that gets closest ({@code d_j = sign(w'_j)
 * cap_j}).
 */
final class FabProjections {
  private FabProjections() {}

  /**
   * The smallest-norm displacement {@code d} with {@code <w, d> = c} and {@code p + d} in the box.
   *
   * @param norm Linf or L2 (the norm minimised)
   * @param p the point, {@code (d)} values in {@code [0,1]}
   * @param w the hyperplane normal {@code (d)}
   * @param c the required value of {@code <w, d>}
   * @return d {@code (d)}
   */
  static double[] project(Norm norm, double[] p, double[] w, double c) {
    double[] d = new double[p.length];
    project(norm, p, w, c, d);
    return d;
  }

  /**
   * {@link #project(Norm, double[], double[], double)} into {@code d} (its first {@code p.length}
   * values are overwritten), allocating nothing: FAB projects twice per sample and iteration.
   */
  static void project(Norm norm, double[] p, double[] w, double c, double[] d) {
    int n = p.length;
    java.util.Arrays.fill(d, 0, n, 0.0);
    if (c == 0 || Double.isNaN(c)) {
      return;
    }
    double sgn = c > 0 ? 1 : -1;
    double target = Math.abs(c);
    boolean linf = norm == Norm.LINF;
    Scratch sc = SCRATCH.get().ensure(n);
    double[] cap = sc.cap;
    double[] aw = sc.aw;
    double[] brk = sc.brk;
    double[] cand = sc.cand;
    int m = 0;
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < n; j++) {
      double wj = sgn * w[j];
      if (wj == 0 || Double.isNaN(wj)) {
        brk[j] = Double.NaN; // never moves
        cap[j] = 0;
        aw[j] = 0;
        continue;
      }
      cap[j] = Math.max(0, wj > 0 ? 1 - p[j] : p[j]);
      aw[j] = Math.abs(wj);
      brk[j] = linf ? cap[j] : cap[j] / aw[j];
      cand[m++] = brk[j];
      max = Math.max(max, brk[j]);
    }
    if (m == 0) {
      return;
    }
    double s;
    if (reach(linf, cap, aw, brk, n, max) < target) {
      s = Double.POSITIVE_INFINITY; // unreachable inside the box: the closest corner
    } else {
      // the smallest breakpoint where the reach attains the target (the reach is non-decreasing),
      // found by selection instead of sorting: each pivot's reach splits the candidates, and the
      // loop ends when no breakpoint lies strictly between the last one below and the one found
      double found = max;
      double below = Double.NEGATIVE_INFINITY;
      int left = m;
      while (left > 0) {
        double pivot = medianOfThree(cand[0], cand[left / 2], cand[left - 1]);
        boolean reached = reach(linf, cap, aw, brk, n, pivot) >= target;
        if (reached) {
          found = pivot;
        } else {
          below = pivot;
        }
        int kept = 0;
        for (int i = 0; i < left; i++) {
          double v = cand[i];
          if (v > below && v < found) {
            cand[kept++] = v;
          }
        }
        left = kept;
      }
      below = below == Double.NEGATIVE_INFINITY ? 0 : below;
      // on [below, found] the reach is linear: saturated coordinates plus s * slope
      double fixed = 0;
      double slope = 0;
      for (int j = 0; j < n; j++) {
        if (Double.isNaN(brk[j])) {
          continue;
        }
        if (brk[j] <= below) {
          fixed += aw[j] * cap[j];
        } else {
          slope += linf ? aw[j] : aw[j] * aw[j];
        }
      }
      s = slope > 0 ? (target - fixed) / slope : below;
    }
    for (int j = 0; j < n; j++) {
      if (Double.isNaN(brk[j])) {
        continue;
      }
      double move = Math.min(linf ? s : s * aw[j], cap[j]);
      d[j] = (sgn * w[j] > 0 ? 1 : -1) * move;
    }
  }

  private static double medianOfThree(double a, double b, double c) {
    return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
  }

  /**
   * Per-thread work arrays of {@link #project}, grown on demand (FAB projects samples in parallel).
   */
  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private static final class Scratch {
    double[] cap = new double[0];
    double[] aw = cap;
    double[] brk = cap;
    double[] cand = cap;

    Scratch ensure(int n) {
      if (cap.length < n) {
        cap = new double[n];
        aw = new double[n];
        brk = new double[n];
        cand = new double[n];
      }
      return this;
    }
  }

  /**
   * {@code <w', d(s)>} at parameter s: {@code sum |w_j| min(s, cap_j)} (Linf) or {@code sum |w_j|
   * min(s |w_j|, cap_j)} (L2).
   */
  private static double reach(
      boolean linf, double[] cap, double[] aw, double[] brk, int n, double s) {
    double r = 0;
    for (int j = 0; j < n; j++) {
      if (Double.isNaN(brk[j])) {
        continue;
      }
      r += aw[j] * Math.min(linf ? s : s * aw[j], cap[j]);
    }
    return r;
  }

  /** The norm of a displacement. */
  static double norm(Norm norm, double[] d) {
    double r = 0;
    for (double v : d) {
      r = norm == Norm.LINF ? Math.max(r, Math.abs(v)) : r + v * v;
    }
    return norm == Norm.LINF ? r : Math.sqrt(r);
  }
}
