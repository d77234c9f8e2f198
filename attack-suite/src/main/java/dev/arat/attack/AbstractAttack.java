package dev.arat.attack;

import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Shared behaviour of attacks: argument checks, the gradient step under each norm, random starts,
 * the final projection onto the budget and the per-sample random generators.
 */
public abstract class AbstractAttack implements Attack {
  /** Marks settings in reports: every attack here is arat's own Java implementation. */
  public static final String IMPLEMENTATION = "arat (own Java implementation)";

  /** The budget. */
  protected final ThreatModel threat;

  /**
   * The attack seed; draws for sample {@code id} come from {@link Seeds#forSample}{@code (seed,
   * id)}.
   */
  protected final long seed;

  /** Creates the base with a budget and a seed. */
  protected AbstractAttack(ThreatModel threat, long seed) {
    if (threat == null) {
      throw new IllegalArgumentException("threat model: required");
    }
    this.threat = threat;
    this.seed = seed;
  }

  @Override
  public ThreatModel threat() {
    return threat;
  }

  /** The attack seed. */
  public long seed() {
    return seed;
  }

  /**
   * Runs the attack: checks the batch ({@link #checkInputs}) and the model ({@link #checkModel}),
   * starts every candidate at its clean image with no success (iteration -1), and unless the batch
   * is empty lets {@link #attack} improve them.
   */
  @Override
  public final AttackResult run(
      GradientClassifier model, ImageBatch x, int[] labels, long[] sampleIds) {
    checkInputs(model, x, labels, sampleIds);
    checkModel(model);
    Candidates c = new Candidates(x);
    if (x.n() > 0) {
      attack(model, x, labels, sampleIds, c);
    }
    return new AttackResult(x.with(c.out), c.success, c.iteration);
  }

  /**
   * Rejects a model this attack cannot run on (e.g. too few classes for its loss or targets);
   * nothing by default.
   *
   * @throws IllegalArgumentException naming what does not fit
   */
  protected void checkModel(GradientClassifier model) {}

  /**
   * The attack proper, on a non-empty batch whose inputs are checked: writes each improved
   * candidate into {@code c.out} and marks broken samples in {@code c.success} and {@code
   * c.iteration}. Every candidate must stay within the budget and the {@code [0,1]} box.
   */
  protected abstract void attack(
      GradientClassifier model, ImageBatch x, int[] labels, long[] sampleIds, Candidates c);

  /** The candidates of one {@link #run}, filled in by {@link #attack}. */
  protected static final class Candidates {
    /** The candidate images, float32 {@code (N,C,H,W)} flat; initially the clean images. */
    public final float[] out;

    /** Per sample: whether its candidate is misclassified. */
    public final boolean[] success;

    /** Per sample: the iteration at which it was broken, -1 when it is not. */
    public final int[] iteration;

    Candidates(ImageBatch x) {
      out = x.data().clone();
      success = new boolean[x.n()];
      iteration = new int[x.n()];
      Arrays.fill(iteration, -1);
    }
  }

  /**
   * The settings every attack reports first, in this order: {@code attack}, {@code implementation},
   * {@code paper}, {@code norm}, {@code epsilon}; each attack appends its own after them.
   */
  protected Map<String, Object> baseSettings(String attack, String paper) {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("attack", attack);
    s.put("implementation", IMPLEMENTATION);
    s.put("paper", paper);
    s.put("norm", threat.norm().id());
    s.put("epsilon", threat.epsilon());
    return s;
  }

  /** Checks that labels and ids match the batch and that labels are class indices of the model. */
  protected static void checkInputs(
      Classifier model, ImageBatch x, int[] labels, long[] sampleIds) {
    if (labels.length != x.n() || sampleIds.length != x.n()) {
      throw new IllegalArgumentException(
          "batch of "
              + x.n()
              + " images needs as many labels and sample ids, got "
              + labels.length
              + " labels and "
              + sampleIds.length
              + " ids");
    }
    int k = model.numClasses();
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] < 0 || labels[i] >= k) {
        throw new IllegalArgumentException(
            "label "
                + labels[i]
                + " of sample "
                + sampleIds[i]
                + " is not a class index of a "
                + k
                + "-class model");
      }
    }
  }

  /** Fresh per-sample generators for {@code sampleIds}. */
  protected SplittableRandom[] generators(long[] sampleIds) {
    SplittableRandom[] r = new SplittableRandom[sampleIds.length];
    for (int i = 0; i < r.length; i++) {
      r[i] = Seeds.forSample(seed, sampleIds[i]);
    }
    return r;
  }

  /**
   * Moves image {@code [off, off+per)} of {@code x} in place by {@code alpha} along the steepest
   * ascent direction of {@code grad} under {@code norm}: {@code sign(grad)} for Linf, {@code
   * grad/||grad||_2} for L2 (no move when the gradient is zero).
   */
  public static void ascend(
      Norm norm, double alpha, float[] x, float[] grad, int gradOff, int off, int per) {
    if (norm == Norm.LINF) {
      for (int j = 0; j < per; j++) {
        float g = grad[gradOff + j];
        if (g > 0) {
          x[off + j] = (float) (x[off + j] + alpha);
        } else if (g < 0) {
          x[off + j] = (float) (x[off + j] - alpha);
        }
      }
    } else {
      double sq = 0;
      for (int j = 0; j < per; j++) {
        double g = grad[gradOff + j];
        sq += g * g;
      }
      double nrm = Math.sqrt(sq);
      if (!(nrm > 0) || Double.isInfinite(nrm)) {
        return;
      }
      double s = alpha / nrm;
      for (int j = 0; j < per; j++) {
        x[off + j] = (float) (x[off + j] + s * grad[gradOff + j]);
      }
    }
  }

  /**
   * The box an Linf attack stays in, per pixel: {@code lo = max(0, x0 - eps)} and {@code hi =
   * min(1, x0 + eps)}, rounded once to float. Row-major like {@code x0}.
   *
   * @return {@code {lo, hi}}
   */
  public static float[][] linfBox(double eps, float[] x0) {
    float[] lo = new float[x0.length];
    float[] hi = new float[x0.length];
    for (int j = 0; j < x0.length; j++) {
      lo[j] = (float) Math.max(0.0, x0[j] - eps);
      hi[j] = (float) Math.min(1.0, x0[j] + eps);
    }
    return new float[][] {lo, hi};
  }

  /**
   * One Linf ascent step and its projection in a single pass over image {@code [off, off+per)}:
   * {@code x <- clip(x + alpha·sign(grad), lo, hi)} with the box of {@link #linfBox} (a NaN pixel
   * restarts from {@code x0}). Gives exactly the floats of {@link #ascend} with {@link Norm#LINF}
   * followed by {@link Projections#linf}: rounding {@code lo} and {@code hi} to float cannot move a
   * float value across them. PGD's inner loop, where the double-precision two-pass version costs a
   * measurable share of a small model's iteration.
   */
  public static void linfStep(
      double alpha,
      float[] x,
      float[] grad,
      int gradOff,
      float[] x0,
      float[][] box,
      int off,
      int per) {
    float[] lo = box[0];
    float[] hi = box[1];
    for (int j = 0; j < per; j++) {
      int p = off + j;
      float g = grad[gradOff + j];
      float v = g > 0 ? (float) (x[p] + alpha) : g < 0 ? (float) (x[p] - alpha) : x[p];
      if (v != v) {
        v = x0[p];
      }
      x[p] = Math.min(hi[p], Math.max(lo[p], v));
    }
  }

  /**
   * Replaces image {@code [off, off+per)} of {@code x} by a random point of the ball around the
   * same image of {@code x0}, then clips to {@code [0,1]}. Linf: uniform in the cube. L2: a uniform
   * direction (normalised Gaussian) and radius {@code eps * U^(1/d)}, i.e. uniform in the ball.
   */
  protected void randomStart(SplittableRandom rng, float[] x0, float[] x, int off, int per) {
    double eps = threat.epsilon();
    if (threat.norm() == Norm.LINF) {
      for (int j = off; j < off + per; j++) {
        x[j] = (float) (x0[j] + eps * (2 * rng.nextDouble() - 1));
      }
    } else {
      double[] g = new double[per];
      double sq = 0;
      for (int j = 0; j < per; j++) {
        g[j] = gaussian(rng);
        sq += g[j] * g[j];
      }
      double r = eps * Math.pow(rng.nextDouble(), 1.0 / per) / Math.max(Math.sqrt(sq), 1e-300);
      for (int j = 0; j < per; j++) {
        x[off + j] = (float) (x0[off + j] + r * g[j]);
      }
    }
    Projections.project(threat.norm(), eps, x0, x, off, per);
  }

  /**
   * A standard normal draw (Box-Muller, one value per call, so the stream is simple to reason
   * about).
   */
  protected static double gaussian(SplittableRandom rng) {
    double u1 = rng.nextDouble();
    double u2 = rng.nextDouble();
    return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Index of the largest logit of row {@code i} (first at ties). */
  protected static int argmax(float[] logits, int k, int i) {
    int best = 0;
    for (int j = 1; j < k; j++) {
      if (logits[i * k + j] > logits[i * k + best]) {
        best = j;
      }
    }
    return best;
  }
}
