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
 * locating it between two consecutive breakpoints: the last breakpoint whose reach is below the
 * target, found in linear time by bucketing the breakpoints by value (no sort). When the hyperplane
 * cannot be reached inside the box, the result is the box corner that gets closest ({@code d_j =
 * sign(w'_j) cap_j}).
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
    sc.n = n;
    sc.linf = linf;
    sc.target = target;
    double[] cap = sc.cap;
    double[] aw = sc.aw;
    double[] brk = sc.brk;
    double[] cand = sc.cand;
    double[] sat = sc.sat;
    double[] lin = sc.lin;
    int m = 0;
    double max = Double.NEGATIVE_INFINITY;
    double min = Double.POSITIVE_INFINITY;
    double total = 0;
    for (int j = 0; j < n; j++) {
      double wj = sgn * w[j];
      if (wj == 0 || Double.isNaN(wj)) {
        brk[j] = Double.NaN; // never moves
        cap[j] = 0;
        aw[j] = 0;
        continue;
      }
      // 1 - p_j if w'_j > 0, else p_j: selected by the sign bit, as a branch on random signs
      // costs more than the rest of the loop
      long negative = Double.doubleToRawLongBits(wj) >> 63;
      double room =
          Double.longBitsToDouble(
              Double.doubleToRawLongBits(1 - p[j]) & ~negative
                  | Double.doubleToRawLongBits(p[j]) & negative);
      double cj = Math.max(0, room);
      double a = Math.abs(wj);
      double b = linf ? cj : cj / a;
      cap[j] = cj;
      aw[j] = a;
      brk[j] = b;
      cand[m] = b;
      double st = a * cj;
      sat[m] = st;
      lin[m] = linf ? a : a * a;
      total += st;
      m++;
      max = b > max ? b : max;
      min = b < min ? b : min;
    }
    if (m == 0) {
      return;
    }
    double s;
    if (!sc.reaches(total, max)) {
      s = Double.POSITIVE_INFINITY; // unreachable inside the box: the closest corner
    } else {
      double below = lastBreakpointBelow(sc, m, min, max);
      below = below == Double.NEGATIVE_INFINITY ? 0 : below;
      // between below and the next breakpoint the reach is linear: saturated coordinates plus
      // s * slope (coordinates that never move have aw = cap = 0 and add +0, which changes no
      // sum; the selects are not branches, whose random outcomes cost more than the sums)
      double fixed = 0;
      double slope = 0;
      for (int j = 0; j < n; j++) {
        boolean saturated = brk[j] <= below;
        double a = aw[j];
        fixed += saturated ? a * cap[j] : 0;
        slope += saturated ? 0 : linf ? a : a * a;
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

  private static final int BUCKETS = 64;

  /**
   * The largest breakpoint whose reach (summed in coordinate order, {@link Scratch#reach}) is below
   * the target, or -infinity if none is. That reach is non-decreasing in s (each term is, and
   * rounded addition is monotone), so the answer is one value, whatever the search. The search
   * buckets the m candidate breakpoints in [lo, hi] ({@code sc.cand}, with their saturated and
   * linear parts {@code sc.sat} and {@code sc.lin}) by value, finds the last bucket whose smallest
   * breakpoint is below the target from per-bucket sums, and searches that bucket's few values:
   * linear time, no sort of the whole set. Each comparison with the target is made as {@link
   * Scratch#reaches} decides it.
   */
  private static double lastBreakpointBelow(Scratch sc, int m, double lo, double hi) {
    double[] cand = sc.cand;
    double[] sat = sc.sat;
    double[] lin = sc.lin;
    double scale = BUCKETS / (hi - lo);
    int buckets = scale > 0 && scale < Double.POSITIVE_INFINITY ? BUCKETS : 1;
    double[] bucketSat = sc.bucketSat;
    double[] bucketLin = sc.bucketLin;
    double[] bucketMin = sc.bucketMin;
    java.util.Arrays.fill(bucketSat, 0);
    java.util.Arrays.fill(bucketLin, 0);
    java.util.Arrays.fill(bucketMin, Double.NaN);
    int[] bucket = sc.bucket;
    for (int i = 0; i < m; i++) {
      // non-decreasing in the breakpoint, so buckets keep the order of values
      int k = buckets == 1 ? 0 : Math.min(buckets - 1, (int) ((cand[i] - lo) * scale));
      bucket[i] = k;
      bucketSat[k] += sat[i];
      bucketLin[k] += lin[i];
      if (!(bucketMin[k] <= cand[i])) {
        bucketMin[k] = cand[i];
      }
    }
    // linear parts of the buckets from k on, summed (not subtracted, which could cancel)
    double[] linFrom = sc.linFrom;
    linFrom[buckets] = 0;
    for (int k = buckets - 1; k >= 0; k--) {
      linFrom[k] = linFrom[k + 1] + bucketLin[k];
    }
    // the last bucket whose smallest breakpoint is below: at that breakpoint, the buckets before
    // are saturated and the rest grow linearly (a breakpoint equal to s has both parts equal)
    int last = -1;
    double satBefore = 0;
    double satBeforeLast = 0;
    for (int k = 0; k < buckets; k++) {
      if (Double.isNaN(bucketMin[k])) {
        continue;
      }
      double at = bucketMin[k];
      if (sc.reaches(satBefore + at * linFrom[k], at)) {
        break;
      }
      last = k;
      satBeforeLast = satBefore;
      satBefore += bucketSat[k];
    }
    if (last < 0) {
      return Double.NEGATIVE_INFINITY;
    }
    // that bucket's values, then the largest of them below the target by bisection over the
    // distinct values (its smallest one is below)
    double[] inB = sc.inBucket;
    double[] inSat = sc.inSat;
    double[] inLin = sc.inLin;
    int size = 0;
    for (int i = 0; i < m; i++) {
      if (bucket[i] == last) {
        inB[size] = cand[i];
        inSat[size] = sat[i];
        inLin[size] = lin[i];
        size++;
      }
    }
    double[] values = sc.values;
    System.arraycopy(inB, 0, values, 0, size);
    java.util.Arrays.sort(values, 0, size);
    int distinct = 0;
    for (int i = 0; i < size; i++) {
      if (i == 0 || values[i] != values[distinct - 1]) {
        values[distinct++] = values[i];
      }
    }
    int good = 0; // values[good] is below
    int bad = distinct; // values[bad] (if any) is not
    while (bad - good > 1) {
      int mid = (good + bad) >>> 1;
      double at = values[mid];
      double approx = satBeforeLast + at * linFrom[last + 1];
      for (int i = 0; i < size; i++) {
        approx += inB[i] <= at ? inSat[i] : at * inLin[i];
      }
      if (sc.reaches(approx, at)) {
        bad = mid;
      } else {
        good = mid;
      }
    }
    return values[good];
  }

  /**
   * Per-thread work arrays of {@link #project} and the problem it solves, grown on demand (FAB
   * projects samples in parallel).
   */
  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private static final class Scratch {
    double[] cap = new double[0];
    double[] aw = cap;
    double[] brk = cap;
    double[] cand = cap;
    double[] sat = cap;
    double[] lin = cap;
    int[] bucket = new int[0];
    double[] inBucket = cap;
    double[] inSat = cap;
    double[] inLin = cap;
    double[] values = cap;
    final double[] bucketSat = new double[BUCKETS];
    final double[] bucketLin = new double[BUCKETS];
    final double[] bucketMin = new double[BUCKETS];
    final double[] linFrom = new double[BUCKETS + 1];

    /** The problem being projected: coordinates, norm and the required |c|. */
    int n;

    boolean linf;
    double target;

    /**
     * Whether the reach at s attains the target, exactly as {@link #reach} (a sum in coordinate
     * order) decides it: {@code approx} is the same sum of non-negative terms added in another
     * order, so the two differ by at most a few units of rounding per term; outside that margin the
     * answer is approx's, inside it the reach is summed in coordinate order. The search thus finds
     * the breakpoint that summing every candidate's reach in coordinate order would.
     */
    boolean reaches(double approx, double s) {
      double margin = (n + 8) * 0x1p-50 * Math.max(Math.abs(approx), target) + Double.MIN_NORMAL;
      if (Math.abs(approx - target) > margin) {
        return approx > target;
      }
      return reach(s) >= target; // also when approx is not finite
    }

    /**
     * {@code <w', d(s)>} at parameter s: {@code sum |w_j| min(s, cap_j)} (Linf) or {@code sum |w_j|
     * min(s |w_j|, cap_j)} (L2).
     */
    double reach(double s) {
      double r = 0;
      for (int j = 0; j < n; j++) {
        if (Double.isNaN(brk[j])) {
          continue;
        }
        r += aw[j] * Math.min(linf ? s : s * aw[j], cap[j]);
      }
      return r;
    }

    Scratch ensure(int n) {
      if (cap.length < n) {
        cap = new double[n];
        aw = new double[n];
        brk = new double[n];
        cand = new double[n];
        sat = new double[n];
        lin = new double[n];
        bucket = new int[n];
        inBucket = new double[n];
        inSat = new double[n];
        inLin = new double[n];
        values = new double[n];
      }
      return this;
    }
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
