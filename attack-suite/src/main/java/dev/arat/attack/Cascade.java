package dev.arat.attack;

import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Evaluation as a cascade over per-sample robust flags (AutoAttack's protocol, reference/ATTACKS.md
 * §10.1, with ART's budget check).
 *
 * <ol>
 *   <li>Clean predictions on the deployed model; {@code robust[i] = (clean prediction == label)}.
 *   <li>For each attack in order: run it only on the still-robust samples, in batches of {@code
 *       batchSize}, each from the clean input. Re-score every candidate on the <em>deployed</em>
 *       model and check it against the threat model (no NaN, inside {@code [0,1]}, norm {@code <=
 *       eps * (1 + 1e-4)}). A misclassified candidate within budget breaks the sample; a candidate
 *       outside the budget is a {@link CascadeResult.Violation}, never a success.
 *   <li>Record the cumulative robust count after each attack; stop early when nothing is robust
 *       (remaining attacks are reported as skipped).
 * </ol>
 *
 * <p>The attacked (gradient) model and the deployed model may differ, e.g. a differentiable twin of
 * an ONNX session; only the deployed model's verdict counts.
 */
public final class Cascade {
  /** Relative slack on epsilon when checking a candidate's norm. */
  public static final double BUDGET_TOLERANCE = 1e-4;

  private final ThreatModel threat;
  private final List<Attack> attacks;
  private final int batchSize;

  /** Receives progress events; every method has an empty default. */
  public interface Listener {
    /** Clean predictions are done; {@code correct} of {@code total} samples are clean-correct. */
    default void cleanDone(int correct, int total) {}

    /** Attack {@code index} starts on {@code todo} samples. */
    default void attackStarted(int index, Attack attack, int todo) {}

    /** Attack {@code index} has finished {@code done} of its {@code todo} samples. */
    default void progress(int index, int done, int todo) {}

    /** Attack {@code index} finished (or was skipped). */
    default void attackFinished(int index, CascadeResult.AttackStats stats) {}
  }

  /**
   * Creates a cascade.
   *
   * @param threat the budget every candidate is checked against
   * @param attacks the attacks, in order; each must declare the same threat model
   * @param batchSize samples per attack call, {@code > 0} (bounds memory; never changes results
   *     for per-sample attacks)
   */
  public Cascade(ThreatModel threat, List<Attack> attacks, int batchSize) {
    if (threat == null) {
      throw new IllegalArgumentException("threat model: required");
    }
    if (attacks == null || attacks.isEmpty()) {
      throw new IllegalArgumentException("cascade: at least one attack is required");
    }
    if (batchSize <= 0) {
      throw new IllegalArgumentException("batch size: must be > 0, was " + batchSize);
    }
    for (Attack a : attacks) {
      if (!threat.equals(a.threat())) {
        throw new IllegalArgumentException(
            "attack " + a.name() + " uses " + a.threat().label() + " but the cascade checks " + threat.label());
      }
    }
    this.threat = threat;
    this.attacks = List.copyOf(attacks);
    this.batchSize = batchSize;
  }

  /** The attacks, in order. */
  public List<Attack> attacks() {
    return attacks;
  }

  /**
   * Runs the cascade.
   *
   * @param attacked the model attacks see (logits and input gradients)
   * @param deployed the model whose verdict counts (may be the same object)
   * @param x clean images, float32 {@code (N,C,H,W)} in {@code [0,1]}
   * @param labels true classes {@code (N)}
   * @param sampleIds a stable id per sample {@code (N)} (seeds the attacks' per-sample draws)
   * @param listener progress events, or null
   * @return per-sample outcomes, per-attack statistics and violations
   */
  public CascadeResult run(
      GradientClassifier attacked, Classifier deployed, ImageBatch x, int[] labels, long[] sampleIds, Listener listener) {
    Listener l = listener != null ? listener : new Listener() {};
    int n = x.n();
    if (labels.length != n || sampleIds.length != n) {
      throw new IllegalArgumentException(
          n + " images need as many labels and ids, got " + labels.length + " and " + sampleIds.length);
    }
    int k = deployed.numClasses();
    if (attacked.numClasses() != k) {
      throw new IllegalArgumentException(
          "attacked model has " + attacked.numClasses() + " classes, deployed model has " + k);
    }
    int per = x.imageSize();
    float[] x0 = x.data();
    float[] adv = x0.clone();

    int[] cleanPred = new int[n];
    double[] margin = new double[n];
    int[] pred = new int[n];
    double[] linf = new double[n];
    double[] l2 = new double[n];
    String[] brokenBy = new String[n];
    int[] attackIndex = new int[n];
    int[] iteration = new int[n];
    Arrays.fill(attackIndex, -1);
    Arrays.fill(iteration, -1);
    boolean[] robust = new boolean[n];
    for (int start = 0; start < n; start += batchSize) {
      int[] rows = range(start, Math.min(n, start + batchSize));
      float[] logits = deployed.logits(x.select(rows));
      checkLogits(logits, rows.length, k, "clean images");
      for (int j = 0; j < rows.length; j++) {
        int i = rows[j];
        cleanPred[i] = AbstractAttack.argmax(logits, k, j);
        pred[i] = cleanPred[i];
        robust[i] = cleanPred[i] == labels[i];
        margin[i] = marginOf(logits, k, j, labels[i]);
      }
    }
    int robustCount = count(robust);
    l.cleanDone(robustCount, n);

    List<CascadeResult.AttackStats> stats = new ArrayList<>();
    List<CascadeResult.Violation> violations = new ArrayList<>();
    for (int a = 0; a < attacks.size(); a++) {
      Attack attack = attacks.get(a);
      int[] todo = indicesOf(robust);
      if (todo.length == 0) {
        CascadeResult.AttackStats s =
            new CascadeResult.AttackStats(a, attack.name(), attack.settings(), 0, 0, 0, 0, 0, 0.0, true);
        stats.add(s);
        l.attackFinished(a, s);
        continue;
      }
      l.attackStarted(a, attack, todo.length);
      long t0 = System.nanoTime();
      int successes = 0;
      int unconfirmed = 0;
      int violated = 0;
      for (int start = 0; start < todo.length; start += batchSize) {
        int[] rows = Arrays.copyOfRange(todo, start, Math.min(todo.length, start + batchSize));
        ImageBatch xb = x.select(rows);
        int[] yb = new int[rows.length];
        long[] idb = new long[rows.length];
        for (int j = 0; j < rows.length; j++) {
          yb[j] = labels[rows[j]];
          idb[j] = sampleIds[rows[j]];
        }
        AttackResult r = attack.run(attacked, xb, yb, idb);
        ImageBatch cand = r.adversarial();
        if (cand.n() != rows.length || cand.imageSize() != per) {
          throw new IllegalStateException(
              "attack " + attack.name() + " returned " + cand.n() + " candidates of size " + cand.imageSize()
                  + " for " + rows.length + " samples of size " + per);
        }
        float[] logits = deployed.logits(cand);
        checkLogits(logits, rows.length, k, "candidates of " + attack.name());
        float[] c = cand.data();
        for (int j = 0; j < rows.length; j++) {
          int i = rows[j];
          int off = j * per;
          int p = AbstractAttack.argmax(logits, k, j);
          boolean mis = p != labels[i];
          double dInf = linfNorm(x0, i * per, c, off, per);
          double d2 = l2Norm(x0, i * per, c, off, per);
          String reason = budgetProblem(c, off, per, dInf, d2);
          if (reason != null) {
            violated++;
            violations.add(new CascadeResult.Violation(a, attack.name(), sampleIds[i], dInf, d2, reason, mis));
            continue;
          }
          double m = marginOf(logits, k, j, labels[i]);
          if (mis) {
            robust[i] = false;
            successes++;
            brokenBy[i] = attack.name();
            attackIndex[i] = a;
            iteration[i] = r.iteration()[j];
            pred[i] = p;
            linf[i] = dInf;
            l2[i] = d2;
            margin[i] = m;
            System.arraycopy(c, off, adv, i * per, per);
          } else {
            if (r.success()[j]) {
              unconfirmed++;
            }
            if (m < margin[i]) {
              margin[i] = m;
              linf[i] = dInf;
              l2[i] = d2;
              pred[i] = p;
              System.arraycopy(c, off, adv, i * per, per);
            }
          }
        }
        l.progress(a, Math.min(todo.length, start + batchSize), todo.length);
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      robustCount = count(robust);
      CascadeResult.AttackStats s = new CascadeResult.AttackStats(
          a, attack.name(), attack.settings(), todo.length, successes, unconfirmed, violated, robustCount, seconds, false);
      stats.add(s);
      l.attackFinished(a, s);
    }

    List<CascadeResult.SampleOutcome> outcomes = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      outcomes.add(new CascadeResult.SampleOutcome(sampleIds[i], labels[i], cleanPred[i], robust[i], brokenBy[i],
          attackIndex[i], iteration[i], pred[i], linf[i], l2[i], margin[i]));
    }
    return new CascadeResult(outcomes, stats, violations, x.with(adv));
  }

  /** Null when the candidate respects the budget, else a short reason. */
  private String budgetProblem(float[] c, int off, int per, double dInf, double d2) {
    for (int j = off; j < off + per; j++) {
      if (Float.isNaN(c[j])) {
        return "candidate holds NaN";
      }
    }
    if (!Projections.inBox(c, off, per)) {
      return "candidate leaves [0,1]";
    }
    double d = threat.norm() == Norm.LINF ? dInf : d2;
    if (!(d <= threat.epsilon() * (1 + BUDGET_TOLERANCE))) {
      return String.format(Locale.ROOT, "%s norm %.6g > eps %.6g", threat.norm().id(), d, threat.epsilon());
    }
    return null;
  }

  private static void checkLogits(float[] logits, int rows, int k, String what) {
    if (logits.length != rows * k) {
      throw new IllegalStateException(
          "deployed model returned " + logits.length + " logits for " + rows + " " + what + ", expected " + rows * k);
    }
  }

  private static double marginOf(float[] logits, int k, int row, int y) {
    int o = row * k;
    return (double) logits[o + y] - logits[o + LossHeads.bestOther(logits, o, k, y)];
  }

  private static double linfNorm(float[] x0, int off0, float[] c, int off, int per) {
    double m = 0;
    for (int j = 0; j < per; j++) {
      double d = Math.abs((double) c[off + j] - x0[off0 + j]);
      if (Double.isNaN(d)) {
        return Double.NaN;
      }
      m = Math.max(m, d);
    }
    return m;
  }

  private static double l2Norm(float[] x0, int off0, float[] c, int off, int per) {
    double s = 0;
    for (int j = 0; j < per; j++) {
      double d = (double) c[off + j] - x0[off0 + j];
      s += d * d;
    }
    return Math.sqrt(s);
  }

  private static int count(boolean[] b) {
    int c = 0;
    for (boolean v : b) {
      c += v ? 1 : 0;
    }
    return c;
  }

  private static int[] indicesOf(boolean[] b) {
    int[] out = new int[count(b)];
    int q = 0;
    for (int i = 0; i < b.length; i++) {
      if (b[i]) {
        out[q++] = i;
      }
    }
    return out;
  }

  private static int[] range(int from, int to) {
    int[] r = new int[to - from];
    for (int i = from; i < to; i++) {
      r[i - from] = i;
    }
    return r;
  }
}
