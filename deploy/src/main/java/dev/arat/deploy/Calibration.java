package dev.arat.deploy;

import java.util.Locale;

/**
 * How an activation tensor's clipping threshold {@code amax} is chosen from its calibration
 * histogram (NVIDIA's calibrators; reference DEPLOYMENT.md §1). The int8 scale is then {@code amax
 * / 127}.
 */
public sealed interface Calibration {
  /** The method's id as written in metadata, e.g. {@code max}, {@code percentile:99.99}. */
  String id();

  /** The threshold {@code amax} (same unit as the tensor's values) chosen from {@code h}. */
  float amax(Histogram h);

  /** {@code amax = max |x|} over the calibration images: nothing is clipped. */
  record Max() implements Calibration {
    @Override
    public String id() {
      return "max";
    }

    @Override
    public float amax(Histogram h) {
      return h.max();
    }
  }

  /**
   * {@code amax} = the given percentile of {@code |x|} (the upper edge of the histogram bin where
   * the cumulative count reaches it): the rarest outliers are clipped.
   *
   * @param percentile in (0, 100], e.g. 99.99
   */
  record Percentile(double percentile) implements Calibration {
    /** Checks the range. */
    public Percentile {
      if (!(percentile > 0 && percentile <= 100)) {
        throw new IllegalArgumentException("percentile must be in (0, 100], was " + percentile);
      }
    }

    @Override
    public String id() {
      return "percentile:" + percentile;
    }

    @Override
    public float amax(Histogram h) {
      long total = h.total();
      if (total == 0) {
        return h.max();
      }
      double need = percentile / 100.0 * total;
      long cum = 0;
      for (int i = 0; i < h.counts().length; i++) {
        cum += h.counts()[i];
        if (cum >= need) {
          return h.edge(i + 1);
        }
      }
      return h.max();
    }
  }

  /**
   * TensorRT's classic entropy calibrator: among thresholds at the histogram's bin edges from bin
   * 128 on, the one whose 128-level quantized distribution has the smallest KL divergence from the
   * reference distribution (the histogram up to the threshold, with the clipped outliers added to
   * its last bin).
   */
  record Entropy() implements Calibration {
    /** Levels of the quantized magnitude distribution (int8: 128). */
    public static final int LEVELS = 128;

    @Override
    public String id() {
      return "entropy";
    }

    @Override
    public float amax(Histogram h) {
      long[] bins = h.counts();
      if (h.total() == 0 || h.max() == 0) {
        return h.max();
      }
      double best = Double.POSITIVE_INFINITY;
      int bestI = bins.length;
      double[] p = new double[bins.length];
      double[] q = new double[bins.length];
      for (int i = LEVELS; i <= bins.length; i++) {
        long outliers = 0;
        for (int j = i; j < bins.length; j++) {
          outliers += bins[j];
        }
        double sumP = 0;
        for (int j = 0; j < i; j++) {
          p[j] = bins[j];
          sumP += bins[j];
        }
        p[i - 1] += outliers;
        sumP += outliers;
        // quantize bins[0, i) into LEVELS chunks; spread each chunk's mass over its non-empty bins
        double sumQ = 0;
        for (int l = 0; l < LEVELS; l++) {
          int from = (int) ((long) l * i / LEVELS);
          int to = (int) ((long) (l + 1) * i / LEVELS);
          double mass = 0;
          int nonEmpty = 0;
          for (int j = from; j < to; j++) {
            mass += bins[j];
            nonEmpty += bins[j] != 0 ? 1 : 0;
          }
          for (int j = from; j < to; j++) {
            q[j] = bins[j] != 0 ? mass / nonEmpty : 0;
            sumQ += q[j];
          }
        }
        double kl = 0;
        for (int j = 0; j < i && kl < Double.POSITIVE_INFINITY; j++) {
          if (p[j] > 0) {
            double pj = p[j] / sumP;
            double qj = q[j] / sumQ;
            kl += qj > 0 ? pj * Math.log(pj / qj) : Double.POSITIVE_INFINITY;
          }
        }
        if (kl < best) {
          best = kl;
          bestI = i;
        }
      }
      return h.edge(bestI);
    }
  }

  /**
   * Parses a method name.
   *
   * @param method {@code max}, {@code percentile} or {@code entropy} (any case)
   * @param percentile the percentile for {@code percentile}
   * @throws IllegalArgumentException naming the accepted methods
   */
  static Calibration parse(String method, double percentile) {
    return switch (method.toLowerCase(Locale.ROOT)) {
      case "max" -> new Max();
      case "percentile" -> new Percentile(percentile);
      case "entropy" -> new Entropy();
      default ->
          throw new IllegalArgumentException(
              "calibration method must be max, percentile or" + " entropy, was '" + method + "'");
    };
  }
}
