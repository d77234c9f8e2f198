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
  private final boolean attacksRun;

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
   * @param batchSize samples per attack call, {@code > 0} (bounds memory; never changes results for
   *     per-sample attacks)
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
            "attack "
                + a.name()
                + " uses "
                + a.threat().label()
                + " but the cascade checks "
                + threat.label());
      }
    }
    this.threat = threat;
    this.attacks = List.copyOf(attacks);
    this.batchSize = batchSize;
    this.attacksRun = true;
  }

  private Cascade(Cascade c, boolean attacksRun) {
    this.threat = c.threat;
    this.attacks = c.attacks;
    this.batchSize = c.batchSize;
    this.attacksRun = attacksRun;
  }

  /**
   * This cascade with the clean pass only: no attack runs, every one is reported skipped (with
   * {@code robustAfter} = the clean-correct count, which then bounds nothing). For a model the
   * attacks cannot run on, whose report must say so and cannot be trusted.
   */
  public Cascade withoutAttacks() {
    return new Cascade(this, false);
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
      GradientClassifier attacked,
      Classifier deployed,
      ImageBatch x,
      int[] labels,
      long[] sampleIds,
      Listener listener) {
    return run(attacked, deployed, x, labels, sampleIds, listener, null);
  }

  /**
   * Runs the cascade, replaying what {@code journal} holds and recording what it computes.
   *
   * <p>Samples whose clean outcome or attempt is in the journal are not recomputed; the result is
   * the same as a run without a journal (durations aside). The adversarial image of a sample whose
   * counted candidate comes from the journal is its clean image (the journal holds no pixels). A
   * listener may throw to abort the run; every batch finished before is in the journal.
   *
   * @param attacked the model attacks see (logits and input gradients)
   * @param deployed the model whose verdict counts (may be the same object)
   * @param x clean images, float32 {@code (N,C,H,W)} in {@code [0,1]}
   * @param labels true classes {@code (N)}
   * @param sampleIds a stable id per sample {@code (N)}, distinct (seeds the per-sample draws and
   *     keys the journal)
   * @param listener progress events, or null
   * @param journal records to replay and to extend, or null
   * @return per-sample outcomes, per-attack statistics and violations (in sample order per attack)
   */
  public CascadeResult run(
      GradientClassifier attacked,
      Classifier deployed,
      ImageBatch x,
      int[] labels,
      long[] sampleIds,
      Listener listener,
      CascadeJournal journal) {
    Listener l = listener != null ? listener : new Listener() {};
    int n = x.n();
    if (labels.length != n || sampleIds.length != n) {
      throw new IllegalArgumentException(
          n
              + " images need as many labels and ids, got "
              + labels.length
              + " and "
              + sampleIds.length);
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
    List<Integer> cleanTodo = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      CascadeJournal.Clean c = journal == null ? null : journal.clean(sampleIds[i]);
      if (c == null) {
        cleanTodo.add(i);
        continue;
      }
      if (c.label() != labels[i]) {
        throw new IllegalStateException(
            "journal records label "
                + c.label()
                + " for sample "
                + sampleIds[i]
                + " but the data gives "
                + labels[i]);
      }
      cleanPred[i] = c.prediction();
      pred[i] = c.prediction();
      robust[i] = c.prediction() == labels[i];
      margin[i] = c.margin();
    }
    for (int start = 0; start < cleanTodo.size(); start += batchSize) {
      long t0 = System.nanoTime();
      int[] rows = toArray(cleanTodo.subList(start, Math.min(cleanTodo.size(), start + batchSize)));
      float[] logits = deployed.logits(x.select(rows));
      checkLogits(logits, rows.length, k, "clean images");
      List<CascadeJournal.Clean> records = new ArrayList<>(rows.length);
      for (int j = 0; j < rows.length; j++) {
        int i = rows[j];
        cleanPred[i] = AbstractAttack.argmax(logits, k, j);
        pred[i] = cleanPred[i];
        robust[i] = cleanPred[i] == labels[i];
        margin[i] = marginOf(logits, k, j, labels[i]);
        records.add(new CascadeJournal.Clean(sampleIds[i], labels[i], cleanPred[i], margin[i]));
      }
      if (journal != null) {
        journal.recordClean(records, (System.nanoTime() - t0) / 1e9);
      }
    }
    int robustCount = count(robust);
    l.cleanDone(robustCount, n);

    List<CascadeResult.AttackStats> stats = new ArrayList<>();
    List<CascadeResult.Violation> violations = new ArrayList<>();
    for (int a = 0; a < attacks.size(); a++) {
      Attack attack = attacks.get(a);
      int[] todo = indicesOf(robust);
      if (todo.length == 0 || !attacksRun) {
        CascadeResult.AttackStats s =
            new CascadeResult.AttackStats(
                a,
                attack.name(),
                attack.settings(),
                0,
                0,
                0,
                0,
                todo.length,
                0.0,
                ModelCalls.NONE,
                true);
        stats.add(s);
        l.attackFinished(a, s);
        continue;
      }
      l.attackStarted(a, attack, todo.length);
      long t0 = System.nanoTime();
      CascadeJournal.Spent earlier =
          journal == null ? CascadeJournal.Spent.NONE : journal.recorded(a);
      ModelCalls calls = earlier.calls();
      Tally t = new Tally();
      List<Integer> fresh = new ArrayList<>();
      for (int i : todo) {
        CascadeJournal.Attempt rec = journal == null ? null : journal.attempt(a, sampleIds[i]);
        if (rec == null) {
          fresh.add(i);
        } else {
          t.apply(
              a,
              attack.name(),
              i,
              rec,
              labels,
              sampleIds,
              null,
              0,
              robust,
              brokenBy,
              attackIndex,
              iteration,
              pred,
              linf,
              l2,
              margin,
              adv,
              per);
        }
      }
      if (fresh.size() < todo.length) {
        l.progress(a, todo.length - fresh.size(), todo.length);
      }
      for (int start = 0; start < fresh.size(); start += batchSize) {
        long tb = System.nanoTime();
        int[] rows = toArray(fresh.subList(start, Math.min(fresh.size(), start + batchSize)));
        ImageBatch xb = x.select(rows);
        int[] yb = new int[rows.length];
        long[] idb = new long[rows.length];
        for (int j = 0; j < rows.length; j++) {
          yb[j] = labels[rows[j]];
          idb[j] = sampleIds[rows[j]];
        }
        CountingClassifier counted = new CountingClassifier(attacked);
        AttackResult r = attack.run(counted, xb, yb, idb);
        calls = calls.plus(counted.calls());
        ImageBatch cand = r.adversarial();
        if (cand.n() != rows.length || cand.imageSize() != per) {
          throw new IllegalStateException(
              "attack "
                  + attack.name()
                  + " returned "
                  + cand.n()
                  + " candidates of size "
                  + cand.imageSize()
                  + " for "
                  + rows.length
                  + " samples of size "
                  + per);
        }
        float[] logits = deployed.logits(cand);
        checkLogits(logits, rows.length, k, "candidates of " + attack.name());
        float[] c = cand.data();
        List<CascadeJournal.Attempt> records = new ArrayList<>(rows.length);
        for (int j = 0; j < rows.length; j++) {
          int i = rows[j];
          int off = j * per;
          int p = AbstractAttack.argmax(logits, k, j);
          double dInf = linfNorm(x0, i * per, c, off, per);
          double d2 = l2Norm(x0, i * per, c, off, per);
          String reason = budgetProblem(c, off, per, dInf, d2);
          double m = marginOf(logits, k, j, labels[i]);
          CascadeJournal.Attempt rec =
              new CascadeJournal.Attempt(
                  sampleIds[i], p, r.success()[j], r.iteration()[j], dInf, d2, m, reason);
          records.add(rec);
          t.apply(
              a,
              attack.name(),
              i,
              rec,
              labels,
              sampleIds,
              c,
              off,
              robust,
              brokenBy,
              attackIndex,
              iteration,
              pred,
              linf,
              l2,
              margin,
              adv,
              per);
        }
        if (journal != null) {
          recordBroken(journal, a, rows, records, labels, cand);
          journal.recordAttempts(
              a,
              records,
              new CascadeJournal.Spent((System.nanoTime() - tb) / 1e9, counted.calls()));
        }
        l.progress(
            a, todo.length - fresh.size() + Math.min(fresh.size(), start + batchSize), todo.length);
      }
      double seconds = (System.nanoTime() - t0) / 1e9 + earlier.seconds();
      robustCount = count(robust);
      t.violations.sort(java.util.Comparator.comparingInt(v -> v.position));
      for (PositionedViolation v : t.violations) {
        violations.add(v.violation);
      }
      CascadeResult.AttackStats s =
          new CascadeResult.AttackStats(
              a,
              attack.name(),
              attack.settings(),
              todo.length,
              t.successes,
              t.unconfirmed,
              t.violations.size(),
              robustCount,
              seconds,
              calls,
              false);
      stats.add(s);
      l.attackFinished(a, s);
    }

    List<CascadeResult.SampleOutcome> outcomes = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      outcomes.add(
          new CascadeResult.SampleOutcome(
              sampleIds[i],
              labels[i],
              cleanPred[i],
              robust[i],
              brokenBy[i],
              attackIndex[i],
              iteration[i],
              pred[i],
              linf[i],
              l2[i],
              margin[i]));
    }
    return new CascadeResult(outcomes, stats, violations, x.with(adv));
  }

  /** Hands the journal the candidates of one batch that broke their sample (within budget). */
  private static void recordBroken(
      CascadeJournal journal,
      int a,
      int[] rows,
      List<CascadeJournal.Attempt> records,
      int[] labels,
      ImageBatch cand) {
    List<Integer> broken = new ArrayList<>();
    for (int j = 0; j < rows.length; j++) {
      CascadeJournal.Attempt r = records.get(j);
      if (r.violation() == null && r.prediction() != labels[rows[j]]) {
        broken.add(j);
      }
    }
    if (!broken.isEmpty()) {
      int[] sel = toArray(broken);
      long[] ids = new long[sel.length];
      for (int q = 0; q < sel.length; q++) {
        ids[q] = records.get(sel[q]).sampleId();
      }
      journal.recordAdversarial(a, ids, cand.select(sel));
    }
  }

  private record PositionedViolation(int position, CascadeResult.Violation violation) {}

  /** Counters of one attack, and the per-sample update shared by fresh and replayed attempts. */
  private static final class Tally {
    int successes;
    int unconfirmed;
    final List<PositionedViolation> violations = new ArrayList<>();

    void apply(
        int a,
        String name,
        int i,
        CascadeJournal.Attempt rec,
        int[] labels,
        long[] sampleIds,
        float[] c,
        int off,
        boolean[] robust,
        String[] brokenBy,
        int[] attackIndex,
        int[] iteration,
        int[] pred,
        double[] linf,
        double[] l2,
        double[] margin,
        float[] adv,
        int per) {
      boolean mis = rec.prediction() != labels[i];
      if (rec.violation() != null) {
        violations.add(
            new PositionedViolation(
                i,
                new CascadeResult.Violation(
                    a, name, sampleIds[i], rec.linf(), rec.l2(), rec.violation(), mis)));
        return;
      }
      if (mis) {
        robust[i] = false;
        successes++;
        brokenBy[i] = name;
        attackIndex[i] = a;
        iteration[i] = rec.iteration();
        pred[i] = rec.prediction();
        linf[i] = rec.linf();
        l2[i] = rec.l2();
        margin[i] = rec.margin();
        if (c != null) {
          System.arraycopy(c, off, adv, i * per, per);
        }
      } else {
        if (rec.claimed()) {
          unconfirmed++;
        }
        if (rec.margin() < margin[i]) {
          margin[i] = rec.margin();
          linf[i] = rec.linf();
          l2[i] = rec.l2();
          pred[i] = rec.prediction();
          if (c != null) {
            System.arraycopy(c, off, adv, i * per, per);
          }
        }
      }
    }
  }

  private static int[] toArray(List<Integer> list) {
    int[] out = new int[list.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = list.get(i);
    }
    return out;
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
      return String.format(
          Locale.ROOT, "%s norm %.6g > eps %.6g", threat.norm().id(), d, threat.epsilon());
    }
    return null;
  }

  private static void checkLogits(float[] logits, int rows, int k, String what) {
    if (logits.length != rows * k) {
      throw new IllegalStateException(
          "deployed model returned "
              + logits.length
              + " logits for "
              + rows
              + " "
              + what
              + ", expected "
              + rows * k);
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
}
