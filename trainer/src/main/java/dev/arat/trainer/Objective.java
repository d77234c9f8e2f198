package dev.arat.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.Pgd;
import dev.arat.specs.LossHead;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.nn.Autograd;
import dev.arat.trainer.nn.NetworkClassifier;
import dev.arat.trainer.nn.SplitBnNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The training objectives of ARAT-METHOD §1.2 ({@code standard}, {@code pgd-at}, {@code trades},
 * {@code arat}) over a {@link SplitBnNetwork}: in-training attacks, the loss whose gradient a step
 * follows, and the gradient-conflict metric of §7 ({@link #conflict}).
 *
 * <ul>
 *   <li>{@code standard}: {@code CE(f(x), y)}, BN in train mode.
 *   <li>{@code pgd-at}: {@code CE(f(x'), y)} with x' from PGD (Madry), one BN set.
 *   <li>{@code trades}: {@code CE(f(x), y) + β·KL(f(x) ‖ f(x'))} (Zhang et al. 2019; KL summed over
 *       classes, mean over the batch, gradient through both sides as in the TRADES code), x' from
 *       {@link KlAttack}; one BN set, two separate train-mode forwards (clean first).
 *   <li>{@code arat}: {@code w_adv·CE(f_adv(x'),y) + w_clean·CE(f_clean(x),y) + (γ/|S|)·Σ_l D_l},
 *       with {@code D_l = 1 − mean_i cos(h_l(z'_l), sg(z_l))} for the default alignment {@code
 *       x->y}. Clean and adversarial batches are forwarded separately, each through its own BN set
 *       in train mode.
 * </ul>
 *
 * <p>In-training PGD is {@link Pgd#perturb} (the same class the evaluator runs) on a {@link
 * NetworkClassifier} over the adversarial BN set in <em>train</em> mode (ARAT-METHOD §2, P4), with
 * the weights frozen during the attack. The clean batch is never modified and x' stays within ε of
 * the true x: the released code's in-place random start (pitfall P1) is not reproduced.
 *
 * <p>ARAT ablation switches ({@link TrainingRecipe.Arat}): without the predictor {@code h} is the
 * identity; without stop-gradient the target is not detached; {@code y->x} is {@code 1 − cos(sg z',
 * h(z))} (the clean side learns, through the same per-tap predictor); {@code x->y,y->x} averages
 * the two one-sided terms; {@code x<->y} is the naive symmetric {@code 1 − cos(h(z'), z)} with no
 * detach on either side.
 */
public final class Objective {

  /** The terms of the ARAT loss, to compute only some of them (tests, diagnostics). */
  public enum Term {
    /** {@code w_adv·CE(f_adv(x'), y)}, or the single CE of {@code standard}/{@code pgd-at}. */
    CE_ADV,
    /** {@code w_clean·CE(f_clean(x), y)} (ARAT only). */
    CE_CLEAN,
    /** The invariance term (ARAT only). */
    INVARIANCE
  }

  /**
   * The loss values of one step (unweighted CEs, weighted total).
   *
   * @param total the loss that was back-propagated
   * @param ceAdv mean CE of the adversarial (or only) forward pass
   * @param ceClean mean CE of the clean-branch forward pass (ARAT; else NaN)
   * @param invariance the invariance term including its weight γ (ARAT; else NaN)
   * @param correct samples the adversarial (or only) pass classified correctly
   * @param correctClean samples the clean-branch pass classified correctly (ARAT; else 0)
   * @param n batch size
   */
  public record StepLoss(
      double total,
      double ceAdv,
      double ceClean,
      double invariance,
      int correct,
      int correctClean,
      int n) {}

  private static final double COS_EPS = 1e-8;

  private final TrainingRecipe recipe;
  private final SplitBnNetwork net;
  private final String method;
  private final NetworkClassifier attackModel;

  /**
   * Creates the objective of {@code recipe.method()} over {@code net}.
   *
   * @param recipe the recipe (method, attack, ARAT settings)
   * @param net the network (split-BN and predictors as the recipe asks)
   */
  public Objective(TrainingRecipe recipe, SplitBnNetwork net) {
    if (!TrainingRecipe.METHODS.contains(recipe.method())) {
      throw new IllegalArgumentException("unknown method " + recipe.method());
    }
    this.recipe = recipe;
    this.net = net;
    this.method = recipe.method();
    this.attackModel = new NetworkClassifier(net, Branch.ADV, true);
  }

  /** Whether the method trains on adversarial examples. */
  public boolean usesAttack() {
    return !"standard".equals(method);
  }

  /**
   * The in-training PGD attack of one step: {@code recipe.attack()}, CE, one run, last iterate.
   *
   * @param seed the attack seed of this step (random starts are per (seed, sample id))
   */
  public Pgd attack(long seed) {
    TrainingRecipe.Attack a = recipe.attack();
    return new Pgd(a.threatModel(), a.steps(), a.stepSize(), 1, LossHead.CE, a.randomStart(), seed);
  }

  /**
   * Generates the adversarial batch for a step: PGD against the adversarial BN set in train mode,
   * weights frozen. Returns {@code x} itself for {@code standard}.
   *
   * @param x clean images {@code (N,C,H,W)} in {@code [0,1]} (not modified)
   * @param labels true classes
   * @param sampleIds stable ids seeding each sample's random start
   * @param seed the attack seed of this step
   */
  public ImageBatch adversarial(ImageBatch x, int[] labels, long[] sampleIds, long seed) {
    if (!usesAttack()) {
      return x;
    }
    if ("trades".equals(method)) {
      TrainingRecipe.Attack a = recipe.attack();
      return new KlAttack(a.threatModel(), a.steps(), a.stepSize(), seed)
          .perturb(net, Branch.ADV, true, x, sampleIds);
    }
    return attack(seed).perturb(attackModel, x, labels, sampleIds);
  }

  /**
   * Zeroes the weights' gradients, computes the loss of one step and back-propagates it into the
   * weights' gradients (no update). Records with {@link Autograd} on the calling thread; the
   * network must not be used by another thread meanwhile.
   *
   * @param step a per-step sub-manager of the network's manager
   * @param clean the clean batch x
   * @param adv the adversarial batch x' (ignored by {@code standard})
   * @param labels true classes
   * @param wAdv weight of the adversarial CE (ARAT auto-balance; 1 otherwise)
   * @param wClean weight of the clean CE
   * @param terms which terms to include (all for training)
   */
  public StepLoss backward(
      NDManager step,
      ImageBatch clean,
      ImageBatch adv,
      int[] labels,
      double wAdv,
      double wClean,
      Set<Term> terms) {
    int n = clean.n();
    net.setTrainable(true);
    net.zeroGradients();
    NDArray y = step.create(labels).oneHot(net.spec().numClasses());
    NDArray x = toArray(step, clean);
    try (Autograd gc = Autograd.record()) {
      if ("trades".equals(method)) {
        NDArray xa = toArray(step, adv);
        NDArray zc = net.forward(x, Branch.ADV, true, false).logits();
        NDArray za = net.forward(xa, Branch.ADV, true, false).logits();
        NDArray ce = crossEntropy(zc, y);
        NDArray kl = klDivergence(zc, za).mul((float) recipe.trades().beta().doubleValue());
        NDArray total = null;
        if (terms.contains(Term.CE_CLEAN) || terms.contains(Term.CE_ADV)) {
          total = ce;
        }
        if (terms.contains(Term.INVARIANCE)) {
          total = total == null ? kl : total.add(kl);
        }
        if (total == null) {
          throw new IllegalArgumentException("no loss term selected");
        }
        gc.backward(total);
        double ceAdv = crossEntropy(za.stopGradient(), y).getFloat();
        return new StepLoss(
            total.getFloat(),
            ceAdv,
            ce.getFloat(),
            kl.getFloat(),
            correct(za, labels),
            correct(zc, labels),
            n);
      }
      if (!"arat".equals(method)) {
        NDArray in = "standard".equals(method) ? x : toArray(step, adv);
        NDArray logits = net.forward(in, Branch.ADV, true, false).logits();
        NDArray ce = crossEntropy(logits, y);
        gc.backward(ce);
        double v = ce.getFloat();
        return new StepLoss(v, v, Double.NaN, Double.NaN, correct(logits, labels), 0, n);
      }
      NDArray xa = toArray(step, adv);
      SplitBnNetwork.Output outAdv = net.forward(xa, Branch.ADV, true, true);
      SplitBnNetwork.Output outClean = net.forward(x, Branch.CLEAN, true, true);
      NDArray ceAdv = crossEntropy(outAdv.logits(), y);
      NDArray ceClean = crossEntropy(outClean.logits(), y);
      NDArray inv = invariance(outAdv, outClean);
      NDArray total = null;
      if (terms.contains(Term.CE_ADV)) {
        total = ceAdv.mul((float) wAdv);
      }
      if (terms.contains(Term.CE_CLEAN)) {
        NDArray t = ceClean.mul((float) wClean);
        total = total == null ? t : total.add(t);
      }
      if (terms.contains(Term.INVARIANCE) && inv != null) {
        total = total == null ? inv : total.add(inv);
      }
      if (total == null) {
        throw new IllegalArgumentException("no loss term selected");
      }
      gc.backward(total);
      return new StepLoss(
          total.getFloat(),
          ceAdv.getFloat(),
          ceClean.getFloat(),
          inv == null ? 0.0 : inv.getFloat(),
          correct(outAdv.logits(), labels),
          correct(outClean.logits(), labels),
          n);
    }
  }

  /**
   * Gradient-conflict numbers of one layer (or of the whole set W).
   *
   * @param cosine {@code cos(g_cls, g_inv)} (NaN when a gradient is exactly zero)
   * @param conflictRatio share of scalar parameters with {@code g_cls,i · g_inv,i < 0}
   * @param normCls {@code ‖g_cls‖₂}
   * @param normInv {@code ‖g_inv‖₂}
   */
  public record LayerConflict(
      double cosine, double conflictRatio, double normCls, double normInv) {}

  /**
   * The gradient-conflict metric of ARAT-METHOD §7 on one batch. W is every conv and linear weight
   * tensor of the backbone ({@link SplitBnNetwork#convLinearWeightNames}); gradients are flattened
   * and concatenated, zeros included (a loss that does not reach a layer contributes zeros, which
   * count in P and never as conflict).
   *
   * @param overall {@code g_cls = ∇_W (w_adv·CE_adv + w_clean·CE_clean)} against {@code g_inv = ∇_W
   *     L_inv} of the recipe's own invariance term (with its predictor, stop-gradient and alignment
   *     switches)
   * @param purifying {@code g_cls} against the gradient of the purifying half {@code (γ/|S|)Σ_l
   *     D(z'_l, sg z_l)} (no predictor), for diagnosis
   * @param contaminating {@code g_cls} against the gradient of the contaminating half {@code
   *     (γ/|S|)Σ_l D(sg z'_l, z_l)} (no predictor), for diagnosis
   * @param parameters P, the number of scalar parameters in W
   * @param layers per-layer numbers of {@code g_cls} against {@code g_inv}, in layer order
   */
  public record Conflict(
      LayerConflict overall,
      LayerConflict purifying,
      LayerConflict contaminating,
      long parameters,
      Map<String, LayerConflict> layers) {}

  private enum Part {
    CLS,
    INV,
    PURIFYING,
    CONTAMINATING
  }

  /**
   * Measures the gradient-conflict metric (ARAT-METHOD §7) on a batch with the current weights,
   * leaving the training state untouched: each of the four losses is computed by its own forward
   * pass (train mode, as the training step; the BN momentum is set to 0 for the duration so no
   * running statistic changes) and its own backward pass (one recording scope at a time, the
   * weights' gradients zeroed before each and after the last), so a following training step is
   * bit-identical to one without the measurement.
   *
   * @param clean the clean batch x
   * @param adv the adversarial batch x'
   * @param labels true classes
   * @param wAdv the adversarial CE weight of this step
   * @param wClean the clean CE weight of this step
   * @return the numbers, or null when the recipe has no invariance term (no taps or γ = 0)
   * @throws IllegalStateException for a method other than {@code arat}
   */
  public Conflict conflict(
      ImageBatch clean, ImageBatch adv, int[] labels, double wAdv, double wClean) {
    if (!"arat".equals(method)) {
      throw new IllegalStateException(
          "the gradient-conflict metric needs method arat, was " + method);
    }
    if (net.taps().isEmpty() || recipe.arat().gamma() == 0) {
      return null;
    }
    List<String> w = net.convLinearWeightNames();
    boolean wasTrainable = net.isTrainable();
    net.setBnMomentum(0.0);
    try {
      float[][] cls = partGradient(Part.CLS, w, clean, adv, labels, wAdv, wClean);
      float[][] inv = partGradient(Part.INV, w, clean, adv, labels, wAdv, wClean);
      float[][] pur = partGradient(Part.PURIFYING, w, clean, adv, labels, wAdv, wClean);
      float[][] con = partGradient(Part.CONTAMINATING, w, clean, adv, labels, wAdv, wClean);
      Map<String, LayerConflict> layers = new java.util.LinkedHashMap<>();
      long p = 0;
      for (int i = 0; i < w.size(); i++) {
        layers.put(w.get(i), compare(new float[][] {cls[i]}, new float[][] {inv[i]}));
        p += cls[i].length;
      }
      return new Conflict(compare(cls, inv), compare(cls, pur), compare(cls, con), p, layers);
    } finally {
      net.setBnMomentum(null);
      net.setTrainable(true);
      net.zeroGradients();
      net.setTrainable(wasTrainable);
    }
  }

  /** Cosine, conflict ratio and norms of two gradients given as lists of flat pieces. */
  static LayerConflict compare(float[][] a, float[][] b) {
    double dot = 0;
    double na = 0;
    double nb = 0;
    long conflicts = 0;
    long count = 0;
    for (int i = 0; i < a.length; i++) {
      float[] u = a[i];
      float[] v = b[i];
      for (int j = 0; j < u.length; j++) {
        double x = u[j];
        double y = v[j];
        dot += x * y;
        na += x * x;
        nb += y * y;
        if (x * y < 0) {
          conflicts++;
        }
      }
      count += u.length;
    }
    double cos = na > 0 && nb > 0 ? dot / (Math.sqrt(na) * Math.sqrt(nb)) : Double.NaN;
    return new LayerConflict(
        cos, count == 0 ? Double.NaN : conflicts / (double) count, Math.sqrt(na), Math.sqrt(nb));
  }

  private float[][] partGradient(
      Part part,
      List<String> w,
      ImageBatch clean,
      ImageBatch adv,
      int[] labels,
      double wAdv,
      double wClean) {
    net.setTrainable(true);
    net.zeroGradients();
    try (NDManager step = net.manager().newSubManager()) {
      NDArray y = step.create(labels).oneHot(net.spec().numClasses());
      NDArray x = toArray(step, clean);
      NDArray xa = toArray(step, adv);
      try (Autograd gc = Autograd.record()) {
        SplitBnNetwork.Output outAdv = net.forward(xa, Branch.ADV, true, true);
        SplitBnNetwork.Output outClean = net.forward(x, Branch.CLEAN, true, true);
        NDArray loss;
        switch (part) {
          case CLS:
            loss =
                crossEntropy(outAdv.logits(), y)
                    .mul((float) wAdv)
                    .add(crossEntropy(outClean.logits(), y).mul((float) wClean));
            break;
          case INV:
            loss = invariance(outAdv, outClean);
            break;
          default:
            loss = half(outAdv, outClean, part == Part.PURIFYING);
            break;
        }
        gc.backward(loss);
      }
      float[][] g = new float[w.size()][];
      for (int i = 0; i < w.size(); i++) {
        try (NDArray gr = net.parameters().get(w.get(i)).getGradient()) {
          g[i] = gr.toFloatArray();
        }
      }
      return g;
    }
  }

  /** One half of the naive symmetric loss, γ-weighted, without predictor. */
  private NDArray half(SplitBnNetwork.Output adv, SplitBnNetwork.Output clean, boolean purifying) {
    double wt = recipe.arat().gamma() / net.taps().size();
    NDArray sum = null;
    for (String tap : net.taps()) {
      NDArray za = adv.features().get(tap);
      NDArray zc = clean.features().get(tap);
      NDArray d = purifying ? dist(za, zc.stopGradient()) : dist(za.stopGradient(), zc);
      NDArray term = d.mul((float) wt);
      sum = sum == null ? term : sum.add(term);
    }
    return sum;
  }

  /** All terms. */
  public static Set<Term> allTerms() {
    return EnumSet.allOf(Term.class);
  }

  /** The weighted invariance term {@code (γ/|S|)·Σ_l D_l}, or null without taps or with γ = 0. */
  private NDArray invariance(SplitBnNetwork.Output adv, SplitBnNetwork.Output clean) {
    TrainingRecipe.Arat a = recipe.arat();
    List<String> taps = net.taps();
    if (taps.isEmpty() || a.gamma() == 0) {
      return null;
    }
    double w = a.gamma() / taps.size();
    boolean sg = a.stopGradient();
    boolean pred = a.predictor() && net.hasPredictors();
    NDArray sum = null;
    for (String tap : taps) {
      NDArray za = adv.features().get(tap);
      NDArray zc = clean.features().get(tap);
      NDArray d;
      switch (a.align()) {
        case "x->y":
          d = dist(pred ? net.predict(tap, za) : za, sg ? zc.stopGradient() : zc);
          break;
        case "y->x":
          d = dist(pred ? net.predict(tap, zc) : zc, sg ? za.stopGradient() : za);
          break;
        case "x->y,y->x":
          d =
              dist(pred ? net.predict(tap, za) : za, sg ? zc.stopGradient() : zc)
                  .add(dist(pred ? net.predict(tap, zc) : zc, sg ? za.stopGradient() : za))
                  .mul(0.5f);
          break;
        case "x<->y":
          d = dist(pred ? net.predict(tap, za) : za, zc);
          break;
        default:
          throw new IllegalArgumentException("align: unknown '" + a.align() + "'");
      }
      NDArray term = d.mul((float) w);
      sum = sum == null ? term : sum.add(term);
    }
    return sum;
  }

  /**
   * {@code 1 − mean_i cos(p_i, t_i)} over rows, with PyTorch's cosine {@code p·t /
   * sqrt(max(|p|²|t|², eps²))}, eps 1e-8.
   */
  static NDArray dist(NDArray p, NDArray t) {
    NDArray dot = p.mul(t).sum(new int[] {1});
    NDArray w = p.square().sum(new int[] {1}).mul(t.square().sum(new int[] {1}));
    NDArray cos = dot.div(w.maximum((float) (COS_EPS * COS_EPS)).sqrt());
    return cos.mean().neg().add(1);
  }

  /**
   * TRADES' {@code KL(softmax(p) ‖ softmax(q))} summed over classes and averaged over the batch
   * (PyTorch's {@code KLDivLoss(reduction="sum")/N} on {@code log_softmax(q)}, {@code softmax(p)}).
   */
  static NDArray klDivergence(NDArray pLogits, NDArray qLogits) {
    NDArray logP = pLogits.logSoftmax(1);
    NDArray logQ = qLogits.logSoftmax(1);
    return logP.exp().mul(logP.sub(logQ)).sum(new int[] {1}).mean();
  }

  /** Mean cross-entropy of logits {@code (N,K)} against one-hot labels {@code (N,K)}. */
  static NDArray crossEntropy(NDArray logits, NDArray oneHot) {
    return logits.logSoftmax(1).mul(oneHot).sum(new int[] {1}).mean().neg();
  }

  private static int correct(NDArray logits, int[] labels) {
    float[] z = logits.toFloatArray();
    int k = (int) logits.getShape().get(1);
    int[] pred = dev.arat.attack.Classifier.argmax(z, k);
    int c = 0;
    for (int i = 0; i < labels.length; i++) {
      c += pred[i] == labels[i] ? 1 : 0;
    }
    return c;
  }

  private static NDArray toArray(NDManager step, ImageBatch b) {
    return step.create(b.data(), new Shape(b.n(), b.c(), b.h(), b.w()));
  }
}
