package dev.arat.attack;

import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;

/**
 * Projections onto the intersection of an epsilon-ball around the clean image and the box {@code
 * [0,1]}, and perturbation norms. Images are flat float32 arrays, one image being {@code per}
 * consecutive values starting at {@code off}.
 *
 * <p>Linf: clip to {@code [x0-eps, x0+eps]}, then to {@code [0,1]} (exact projection). L2: shrink
 * the perturbation radially to norm eps, then clip to {@code [0,1]} (as AutoAttack does; clipping
 * can only shrink the perturbation since {@code x0} is in the box, so the result stays in the
 * ball).
 */
public final class Projections {
  private Projections() {}

  /** Projects the whole batch {@code x} (in place) around {@code x0} under {@code threat}. */
  public static void project(ThreatModel threat, float[] x0, float[] x, int per) {
    int n = x.length / per;
    for (int i = 0; i < n; i++) {
      project(threat.norm(), threat.epsilon(), x0, x, i * per, per);
    }
  }

  /**
   * Projects image {@code [off, off+per)} of {@code x} in place around the same image of {@code
   * x0}.
   */
  public static void project(Norm norm, double eps, float[] x0, float[] x, int off, int per) {
    if (norm == Norm.LINF) {
      linf(eps, x0, x, off, per);
    } else {
      l2(eps, x0, x, off, per);
    }
  }

  /**
   * Linf projection of one image in place: clip to {@code [x0-eps, x0+eps]} then to {@code [0,1]}.
   */
  public static void linf(double eps, float[] x0, float[] x, int off, int per) {
    for (int j = off; j < off + per; j++) {
      double lo = Math.max(0.0, x0[j] - eps);
      double hi = Math.min(1.0, x0[j] + eps);
      double v = x[j];
      if (Double.isNaN(v)) {
        v = x0[j];
      }
      x[j] = (float) Math.min(hi, Math.max(lo, v));
    }
  }

  /**
   * L2 projection of one image in place: radial shrink of {@code x-x0} to norm eps, then clip to
   * {@code [0,1]}.
   */
  public static void l2(double eps, float[] x0, float[] x, int off, int per) {
    double sq = 0;
    for (int j = off; j < off + per; j++) {
      double d = Double.isNaN(x[j]) ? 0 : (double) x[j] - x0[j];
      sq += d * d;
    }
    double norm = Math.sqrt(sq);
    double scale = norm > eps ? eps / norm : 1.0;
    for (int j = off; j < off + per; j++) {
      double d = Double.isNaN(x[j]) ? 0 : (double) x[j] - x0[j];
      double v = x0[j] + d * scale;
      x[j] = (float) Math.min(1.0, Math.max(0.0, v));
    }
  }

  /** Linf norm of {@code x - x0} over one image (NaN if any value is NaN). */
  public static double linfNorm(float[] x0, float[] x, int off, int per) {
    double m = 0;
    for (int j = off; j < off + per; j++) {
      double d = Math.abs((double) x[j] - x0[j]);
      if (Double.isNaN(d)) {
        return Double.NaN;
      }
      m = Math.max(m, d);
    }
    return m;
  }

  /** L2 norm of {@code x - x0} over one image (NaN if any value is NaN). */
  public static double l2Norm(float[] x0, float[] x, int off, int per) {
    double sq = 0;
    for (int j = off; j < off + per; j++) {
      double d = (double) x[j] - x0[j];
      sq += d * d;
    }
    return Math.sqrt(sq);
  }

  /** The norm of {@code x - x0} over one image under {@code norm}. */
  public static double norm(Norm norm, float[] x0, float[] x, int off, int per) {
    return norm == Norm.LINF ? linfNorm(x0, x, off, per) : l2Norm(x0, x, off, per);
  }

  /** Whether every value of one image is a number inside {@code [0,1]}. */
  public static boolean inBox(float[] x, int off, int per) {
    for (int j = off; j < off + per; j++) {
      float v = x[j];
      if (!(v >= 0f && v <= 1f)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether one image respects the budget: no NaN, inside {@code [0,1]} and {@code ||x - x0|| <=
   * eps * (1 + 1e-4)} under the threat model's norm (the tolerance ART uses).
   */
  public static boolean withinBudget(ThreatModel threat, float[] x0, float[] x, int off, int per) {
    if (!inBox(x, off, per)) {
      return false;
    }
    double d = norm(threat.norm(), x0, x, off, per);
    return d <= threat.epsilon() * (1 + 1e-4);
  }
}
