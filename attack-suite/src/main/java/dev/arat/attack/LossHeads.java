package dev.arat.attack;

import dev.arat.specs.LossHead;

/**
 * A plain-Java reference of the loss heads of {@link LossHead} on logits, and their gradients with
 * respect to the logits: for tests, for checking gradient models, and for building gradient
 * classifiers from models that give logit Jacobians. Formulas follow reference/ATTACKS.md §10.3;
 * every head is maximised by attacks.
 */
public final class LossHeads {
  private static final double DLR_EPS = 1e-12;

  private LossHeads() {}

  /**
   * Per-sample values of {@code head}.
   *
   * @param head the loss head
   * @param logits {@code (N,K)} logits, row-major (not probabilities)
   * @param k number of classes K
   * @param labels true classes {@code (N)}
   * @param targets target classes {@code (N)} for targeted heads, otherwise ignored (may be null)
   * @return {@code (N)} values
   */
  public static float[] value(LossHead head, float[] logits, int k, int[] labels, int[] targets) {
    int n = logits.length / k;
    check(head, k, n, labels, targets);
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      int o = i * k;
      int y = labels[i];
      switch (head) {
        case CE:
          out[i] = (float) (logSumExp(logits, o, k) - logits[o + y]);
          break;
        case CE_TARGETED:
          out[i] = (float) (logits[o + targets[i]] - logSumExp(logits, o, k));
          break;
        case MARGIN:
          out[i] = (float) ((double) logits[o + bestOther(logits, o, k, y)] - logits[o + y]);
          break;
        case DLR:
          {
            int[] s = sortDesc(logits, o, k);
            double den = (double) logits[o + s[0]] - logits[o + s[2]] + DLR_EPS;
            out[i] =
                (float) (-((double) logits[o + y] - logits[o + bestOther(logits, o, k, y)]) / den);
            break;
          }
        case DLR_TARGETED:
          {
            int[] s = sortDesc(logits, o, k);
            double den =
                logits[o + s[0]] - 0.5 * ((double) logits[o + s[2]] + logits[o + s[3]]) + DLR_EPS;
            out[i] = (float) (-((double) logits[o + y] - logits[o + targets[i]]) / den);
            break;
          }
        case LOGIT_DIFF:
          out[i] = (float) ((double) logits[o + targets[i]] - logits[o + y]);
          break;
        default:
          throw new IllegalArgumentException("unknown loss head " + head);
      }
    }
    return out;
  }

  /**
   * Gradient of each sample's value of {@code head} with respect to its logits (argmax/sort taken
   * as fixed, as autodiff does).
   *
   * @return {@code (N,K)} row-major
   */
  public static float[] logitGradient(
      LossHead head, float[] logits, int k, int[] labels, int[] targets) {
    int n = logits.length / k;
    check(head, k, n, labels, targets);
    float[] g = new float[n * k];
    for (int i = 0; i < n; i++) {
      int o = i * k;
      int y = labels[i];
      switch (head) {
        case CE:
        case CE_TARGETED:
          {
            double lse = logSumExp(logits, o, k);
            double sign = head == LossHead.CE ? 1 : -1;
            int hot = head == LossHead.CE ? y : targets[i];
            for (int j = 0; j < k; j++) {
              double p = Math.exp(logits[o + j] - lse);
              g[o + j] = (float) (sign * (p - (j == hot ? 1 : 0)));
            }
            break;
          }
        case MARGIN:
          {
            g[o + bestOther(logits, o, k, y)] += 1f;
            g[o + y] -= 1f;
            break;
          }
        case DLR:
          {
            int[] s = sortDesc(logits, o, k);
            int other = bestOther(logits, o, k, y);
            double num = (double) logits[o + other] - logits[o + y];
            double den = (double) logits[o + s[0]] - logits[o + s[2]] + DLR_EPS;
            double[] d = new double[k];
            d[other] += 1 / den;
            d[y] -= 1 / den;
            d[s[0]] -= num / (den * den);
            d[s[2]] += num / (den * den);
            for (int j = 0; j < k; j++) {
              g[o + j] = (float) d[j];
            }
            break;
          }
        case DLR_TARGETED:
          {
            int[] s = sortDesc(logits, o, k);
            int t = targets[i];
            double num = (double) logits[o + t] - logits[o + y];
            double den =
                logits[o + s[0]] - 0.5 * ((double) logits[o + s[2]] + logits[o + s[3]]) + DLR_EPS;
            double[] d = new double[k];
            d[t] += 1 / den;
            d[y] -= 1 / den;
            d[s[0]] -= num / (den * den);
            d[s[2]] += 0.5 * num / (den * den);
            d[s[3]] += 0.5 * num / (den * den);
            for (int j = 0; j < k; j++) {
              g[o + j] = (float) d[j];
            }
            break;
          }
        case LOGIT_DIFF:
          g[o + targets[i]] += 1f;
          g[o + y] -= 1f;
          break;
        default:
          throw new IllegalArgumentException("unknown loss head " + head);
      }
    }
    return g;
  }

  /**
   * Per-sample margin {@code z_y - max_{j != y} z_j} of {@code (N,K)} logits; negative when
   * misclassified.
   */
  public static float[] margin(float[] logits, int k, int[] labels) {
    int n = logits.length / k;
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      int o = i * k;
      out[i] =
          (float) ((double) logits[o + labels[i]] - logits[o + bestOther(logits, o, k, labels[i])]);
    }
    return out;
  }

  /** The smallest class count a head supports: 2, or 3 for DLR, 4 for targeted DLR. */
  public static int minClasses(LossHead head) {
    switch (head) {
      case DLR:
        return 3;
      case DLR_TARGETED:
        return 4;
      default:
        return 2;
    }
  }

  private static void check(LossHead head, int k, int n, int[] labels, int[] targets) {
    if (k < minClasses(head)) {
      throw new IllegalArgumentException(
          "loss "
              + head.id()
              + " needs at least "
              + minClasses(head)
              + " classes, the model has "
              + k);
    }
    if (labels.length != n) {
      throw new IllegalArgumentException(n + " logit rows but " + labels.length + " labels");
    }
    if (head.targeted() && (targets == null || targets.length != n)) {
      throw new IllegalArgumentException("loss " + head.id() + " needs one target per sample");
    }
  }

  private static double logSumExp(float[] z, int o, int k) {
    double m = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < k; j++) {
      m = Math.max(m, z[o + j]);
    }
    double s = 0;
    for (int j = 0; j < k; j++) {
      s += Math.exp(z[o + j] - m);
    }
    return m + Math.log(s);
  }

  /** Index of the largest logit other than {@code y} (first at ties). */
  static int bestOther(float[] z, int o, int k, int y) {
    int best = -1;
    for (int j = 0; j < k; j++) {
      if (j != y && (best < 0 || z[o + j] > z[o + best])) {
        best = j;
      }
    }
    return best;
  }

  /** Class indices sorted by descending logit (stable: lower index first at ties). */
  private static int[] sortDesc(float[] z, int o, int k) {
    Integer[] idx = new Integer[k];
    for (int j = 0; j < k; j++) {
      idx[j] = j;
    }
    java.util.Arrays.sort(idx, (a, b) -> Float.compare(z[o + b], z[o + a]));
    int[] out = new int[k];
    for (int j = 0; j < k; j++) {
      out[j] = idx[j];
    }
    return out;
  }
}
