package dev.arat.evaluator.checks;

import dev.arat.attack.AttackResult;
import dev.arat.attack.Classifier;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.attack.Pgd;
import dev.arat.attack.Seeds;
import dev.arat.specs.AttackSpec;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.LossHead;
import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The sanity checks run before the cascade (reference/ATTACKS.md §10.9) on the probe samples: the
 * first {@code checks.probe_samples} of the suite's chosen samples, the same in every shard, so
 * that shards record identical results and a merge equals a single run.
 */
public final class Probes {
  /** Largest pairwise distance of normalised logits tolerated between repeated passes. */
  static final double RANDOMNESS_TOLERANCE = 1e-4;

  /** Repeated clean passes of the randomness check. */
  static final int REPEATS = 5;

  private Probes() {}

  /**
   * Runs the enabled checks.
   *
   * @param attacked the model attacks see (gradients)
   * @param deployed the model whose verdict counts
   * @param x probe images, float32 {@code (P,C,H,W)} in {@code [0,1]}
   * @param labels their classes
   * @param ids their dataset indices
   * @param suite the suite (its checks and attacks)
   * @param gradients whether the model can be differentiated (false: the gradient checks are
   *     skipped, ARAT-D017 says why)
   * @return diagnostics in check order (info entries record checks that passed with numbers)
   */
  public static List<Diagnostic> run(
      GradientClassifier attacked,
      Classifier deployed,
      ImageBatch x,
      int[] labels,
      long[] ids,
      EvaluationSuite suite,
      boolean gradients) {
    List<Diagnostic> out = new ArrayList<>();
    int k = deployed.numClasses();
    EvaluationSuite.Checks c = suite.checks();
    out.addAll(classCount(suite, k));
    if (x.n() == 0) {
      return out;
    }
    Diagnostic nonFinite = NonFiniteWatch.clean(deployed, x);
    if (nonFinite != null) {
      out.add(nonFinite);
    }
    if (c.randomness() && nonFinite == null) {
      Diagnostic d = randomness(deployed, x, labels);
      if (d != null) {
        out.add(d);
      }
    }
    if (c.zeroGradient() && gradients) {
      Diagnostic d = zeroGradient(attacked, x, labels, suite, k);
      if (d != null) {
        out.add(d);
      }
    }
    if (c.fullRangePgd() && gradients) {
      out.add(fullRangePgd(attacked, deployed, x, labels, ids, suite, k));
    }
    return out;
  }

  /** ARAT-D001: five clean passes must give the same correct count and (nearly) the same logits. */
  static Diagnostic randomness(Classifier deployed, ImageBatch x, int[] labels) {
    int k = deployed.numClasses();
    float[][] z = new float[REPEATS][];
    int[] correct = new int[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
      z[r] = deployed.logits(x);
      int[] p = Classifier.argmax(z[r], k);
      for (int i = 0; i < p.length; i++) {
        correct[r] += p[i] == labels[i] ? 1 : 0;
      }
    }
    double worst = 0;
    for (int a = 0; a < REPEATS; a++) {
      for (int b = a + 1; b < REPEATS; b++) {
        for (int i = 0; i < x.n(); i++) {
          worst = Math.max(worst, normalisedDistance(z[a], z[b], i * k, k));
        }
      }
    }
    boolean countsVary = java.util.Arrays.stream(correct).distinct().count() > 1;
    if (countsVary || !(worst <= RANDOMNESS_TOLERANCE)) {
      return Diagnostic.Code.RANDOMNESS.of(
          String.format(
              Locale.ROOT,
              "%d repeated clean passes on %d probe samples disagree: correct counts %s, largest distance of"
                  + " normalised logits %.3g (tolerance %.0e); the model is randomised or non-deterministic",
              REPEATS,
              x.n(),
              java.util.Arrays.toString(correct),
              worst,
              RANDOMNESS_TOLERANCE));
    }
    return null;
  }

  private static double normalisedDistance(float[] a, float[] b, int off, int k) {
    double na = 0;
    double nb = 0;
    for (int j = 0; j < k; j++) {
      na += (double) a[off + j] * a[off + j];
      nb += (double) b[off + j] * b[off + j];
    }
    na = Math.sqrt(na);
    nb = Math.sqrt(nb);
    if (!(na > 0) || !(nb > 0)) {
      return na == nb ? 0 : Double.POSITIVE_INFINITY;
    }
    double s = 0;
    for (int j = 0; j < k; j++) {
      double d = a[off + j] / na - b[off + j] / nb;
      s += d * d;
    }
    return Math.sqrt(s);
  }

  /**
   * ARAT-D003: samples whose input gradient of the first gradient attack's loss is exactly zero.
   */
  public static Diagnostic zeroGradient(
      GradientClassifier attacked, ImageBatch x, int[] labels, EvaluationSuite suite, int k) {
    LossHead head = null;
    for (AttackSpec s : suite.attacks()) {
      if (s instanceof AttackSpec.Transfer) {
        continue; // its gradients come from the surrogate, not from this model
      }
      head = s.lossHeads().stream().filter(h -> !h.targeted()).findFirst().orElse(null);
      if (head != null) {
        break;
      }
    }
    if (head == null) {
      return null;
    }
    int[] targets = null;
    if (head.targeted()) {
      float[] z = attacked.logits(x);
      targets = new int[x.n()];
      for (int i = 0; i < x.n(); i++) {
        int best = -1;
        for (int j = 0; j < k; j++) {
          if (j != labels[i] && (best < 0 || z[i * k + j] > z[i * k + best])) {
            best = j;
          }
        }
        targets[i] = best;
      }
    }
    LossGradient g = attacked.lossGradient(x, labels, targets, head);
    int per = x.imageSize();
    int zero = 0;
    int nan = 0;
    for (int i = 0; i < x.n(); i++) {
      double s = 0;
      for (int j = 0; j < per; j++) {
        s += Math.abs(g.gradient()[i * per + j]);
      }
      if (Double.isNaN(s)) {
        nan++;
      } else if (s == 0) {
        zero++;
      }
    }
    if (zero == 0 && nan == 0) {
      return null;
    }
    return Diagnostic.Code.ZERO_GRADIENT.of(
        String.format(
            Locale.ROOT,
            "%d of %d probe samples have an exactly zero %s input gradient at the clean image%s; gradient attacks"
                + " cannot move them (saturated or masked gradients)",
            zero,
            x.n(),
            head.id(),
            nan > 0 ? " and " + nan + " a NaN gradient" : ""));
  }

  /**
   * ARAT-D007: PGD with Linf epsilon 1 (any image is reachable) must leave at most chance plus
   * {@code chance_margin} of the probe samples correct; otherwise gradients are obfuscated. Records
   * an info diagnostic with the reached accuracy when the check passes.
   */
  static Diagnostic fullRangePgd(
      GradientClassifier attacked,
      Classifier deployed,
      ImageBatch x,
      int[] labels,
      long[] ids,
      EvaluationSuite suite,
      int k) {
    EvaluationSuite.Checks c = suite.checks();
    ThreatModel full = new ThreatModel(Norm.LINF, 1.0);
    Pgd pgd =
        new Pgd(full, c.fullRangeSteps(), 0.25, 1, LossHead.CE, true, Seeds.mix(suite.seed(), -1L));
    AttackResult r = pgd.run(attacked, x, labels, ids);
    int[] clean = Classifier.argmax(deployed.logits(x), k);
    int[] adv = Classifier.argmax(deployed.logits(r.adversarial()), k);
    int correct = 0;
    for (int i = 0; i < x.n(); i++) {
      correct += clean[i] == labels[i] && adv[i] == labels[i] ? 1 : 0;
    }
    double acc = (double) correct / x.n();
    double limit = 1.0 / k + c.chanceMargin();
    String msg =
        String.format(
            Locale.ROOT,
            "PGD-%d (CE) with Linf eps=1 left %d of %d probe samples correct"
                + " (%.2f%%; chance %.2f%% + margin %.2f%%)",
            c.fullRangeSteps(),
            correct,
            x.n(),
            100 * acc,
            100.0 / k,
            100 * c.chanceMargin());
    if (acc > limit) {
      return Diagnostic.Code.FULL_RANGE_PGD.of(
          msg
              + ": gradient attacks do not work on this model (obfuscated"
              + " or masked gradients); its robust accuracy is not meaningful");
    }
    return Diagnostic.Code.FULL_RANGE_PGD.with(Diagnostic.Severity.INFO, msg + ": passed");
  }

  /** ARAT-D005 for target counts; loss heads that need more classes are spec errors earlier. */
  static List<Diagnostic> classCount(EvaluationSuite suite, int k) {
    List<Diagnostic> out = new ArrayList<>();
    for (int i = 0; i < suite.attacks().size(); i++) {
      AttackSpec s = suite.attacks().get(i);
      if (s instanceof AttackSpec.Transfer t) {
        s = t.attack();
      }
      int targets =
          s instanceof AttackSpec.ApgdT a
              ? a.targets()
              : s instanceof AttackSpec.FabT f ? f.targets() : 0;
      if (targets > k - 1) {
        out.add(
            Diagnostic.Code.CLASS_COUNT.of(
                String.format(
                    Locale.ROOT,
                    "attacks[%d] (%s) asks for %d target classes but a %d-class model has only %d other classes",
                    i,
                    s.label(),
                    targets,
                    k,
                    k - 1)));
      }
    }
    return out;
  }
}
