package dev.arat.specs;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.List;

/**
 * One attack of an evaluation suite's cascade, selected by its {@code type} key. Settings are
 * validated on load; every setting appears in the report exactly as used.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = AttackSpec.Fgsm.class, name = "fgsm"),
  @JsonSubTypes.Type(value = AttackSpec.Pgd.class, name = "pgd"),
  @JsonSubTypes.Type(value = AttackSpec.Apgd.class, name = "apgd"),
  @JsonSubTypes.Type(value = AttackSpec.ApgdT.class, name = "apgd-t"),
  @JsonSubTypes.Type(value = AttackSpec.Square.class, name = "square"),
  @JsonSubTypes.Type(value = AttackSpec.FabT.class, name = "fab-t"),
  @JsonSubTypes.Type(value = AttackSpec.Transfer.class, name = "transfer")
})
public sealed interface AttackSpec {
  /** The attack's name in reports, e.g. {@code pgd-20-ce}. */
  String label();

  /**
   * The loss heads whose input gradients the attack requests from the attacked model, so an engine
   * can prepare (and check) its gradient graphs before the run; empty for black-box attacks.
   */
  List<LossHead> lossHeads();

  /**
   * The fewest classes a model needs for this attack (2; 3 for DLR; 4 for targeted DLR; {@code
   * targets + 1} for targeted attacks).
   */
  int minClasses();

  /**
   * Whether the attack only queries the evaluated model's outputs (Square; a transfer attack, whose
   * gradients come from its surrogate), so it also works on a model that cannot be differentiated.
   */
  boolean blackBox();

  /** An attack that ascends one loss head: its gradients and class needs are the head's. */
  sealed interface SingleLoss extends AttackSpec permits Fgsm, Pgd, Apgd {
    /** The loss head ascended. */
    LossHead loss();

    @Override
    default List<LossHead> lossHeads() {
      return List.of(loss());
    }

    @Override
    default int minClasses() {
      return minClassesOf(loss());
    }

    @Override
    default boolean blackBox() {
      return false;
    }
  }

  /**
   * Fast gradient sign method (Goodfellow et al., 2015); under L2 it is the normalised gradient
   * step. One step of size epsilon, no random start.
   *
   * @param loss the loss head it ascends (default {@code ce})
   */
  record Fgsm(LossHead loss) implements SingleLoss {
    /** Applies defaults. */
    public Fgsm {
      loss = loss == null ? LossHead.CE : loss;
      if (loss.targeted()) {
        throw new IllegalArgumentException("loss: targeted heads are not available for fgsm");
      }
    }

    @Override
    public String label() {
      return "fgsm-" + loss.id();
    }
  }

  /**
   * Projected gradient descent (Madry et al., 2018): {@code steps} steps of size {@code stepSize}
   * (sign of the gradient under Linf, normalised gradient under L2), projection onto the ball and
   * {@code [0,1]} after each step, a uniform random start in the ball when {@code randomStart}, and
   * {@code restarts} independent runs on the samples still robust.
   *
   * @param steps iterations per restart, {@code > 0} (default 20)
   * @param stepSize step length in pixel units; null means epsilon/4 (Linf) or epsilon/4 (L2)
   * @param restarts independent runs, {@code >= 1} (default 1)
   * @param loss the loss head it ascends (default {@code ce})
   * @param randomStart start from a random point in the ball (default true)
   */
  record Pgd(Integer steps, Double stepSize, Integer restarts, LossHead loss, Boolean randomStart)
      implements SingleLoss {
    /** Applies defaults and validates. */
    public Pgd {
      steps = steps == null ? 20 : steps;
      if (steps <= 0) {
        throw new IllegalArgumentException("steps: must be > 0, was " + steps);
      }
      if (stepSize != null && !(stepSize > 0)) {
        throw new IllegalArgumentException("step_size: must be > 0, was " + stepSize);
      }
      restarts = restarts == null ? 1 : restarts;
      if (restarts <= 0) {
        throw new IllegalArgumentException("restarts: must be > 0, was " + restarts);
      }
      loss = loss == null ? LossHead.CE : loss;
      if (loss.targeted()) {
        throw new IllegalArgumentException("loss: targeted heads are not available for pgd");
      }
      randomStart = randomStart == null || randomStart;
    }

    /** The step size actually used under a budget of {@code epsilon}. */
    public double stepSizeFor(double epsilon) {
      return stepSize != null ? stepSize : epsilon / 4;
    }

    @Override
    public String label() {
      return "pgd-" + steps + "-" + loss.id() + (restarts > 1 ? "-x" + restarts : "");
    }
  }

  /**
   * Auto-PGD (Croce and Hein, ICML 2020): APGD-CE or APGD-DLR, arat's own implementation of
   * AutoAttack's protocol; step size 2 epsilon halved at checkpoints, momentum 0.75, a start on the
   * sphere of radius epsilon, restarts on the samples still robust.
   *
   * @param loss {@code ce} or {@code dlr} (default {@code ce}; DLR needs K >= 3)
   * @param steps iterations per restart, {@code > 0} (default 100)
   * @param restarts runs on still-robust samples, {@code >= 1} (default 1)
   * @param rho the step-size check threshold in {@code (0,1)} (default 0.75)
   * @param eotIter gradient passes averaged per step for randomised models, {@code >= 1} (default
   *     1)
   */
  record Apgd(LossHead loss, Integer steps, Integer restarts, Double rho, Integer eotIter)
      implements SingleLoss {
    /** Applies defaults and validates. */
    public Apgd {
      loss = loss == null ? LossHead.CE : loss;
      if (loss != LossHead.CE && loss != LossHead.DLR) {
        throw new IllegalArgumentException("loss: apgd takes ce or dlr, was " + loss.id());
      }
      steps = positive(steps, 100, "steps");
      restarts = positive(restarts, 1, "restarts");
      rho = rho == null ? 0.75 : rho;
      if (!(rho > 0 && rho < 1)) {
        throw new IllegalArgumentException("rho: must be in (0,1), was " + rho);
      }
      eotIter = positive(eotIter, 1, "eot_iter");
    }

    @Override
    public String label() {
      return "apgd-"
          + loss.id()
          + "-"
          + steps
          + (restarts > 1 ? "-x" + restarts : "")
          + (eotIter > 1 ? "-eot" + eotIter : "");
    }
  }

  /**
   * APGD-T (Croce and Hein, ICML 2020): APGD on the targeted DLR loss against the classes with the
   * 2nd, ..., (targets+1)-th largest clean logit. Needs K >= 4 and K >= targets + 1.
   *
   * @param steps iterations per run, {@code > 0} (default 100)
   * @param targets target classes tried, {@code >= 1} (default 9)
   * @param restarts runs per target on still-robust samples, {@code >= 1} (default 1)
   * @param rho the step-size check threshold in {@code (0,1)} (default 0.75)
   * @param eotIter gradient passes averaged per step, {@code >= 1} (default 1)
   */
  record ApgdT(Integer steps, Integer targets, Integer restarts, Double rho, Integer eotIter)
      implements AttackSpec {
    /** Applies defaults and validates. */
    public ApgdT {
      steps = positive(steps, 100, "steps");
      targets = positive(targets, 9, "targets");
      restarts = positive(restarts, 1, "restarts");
      rho = rho == null ? 0.75 : rho;
      if (!(rho > 0 && rho < 1)) {
        throw new IllegalArgumentException("rho: must be in (0,1), was " + rho);
      }
      eotIter = positive(eotIter, 1, "eot_iter");
    }

    @Override
    public String label() {
      return "apgd-t-"
          + steps
          + "-t"
          + targets
          + (restarts > 1 ? "-x" + restarts : "")
          + (eotIter > 1 ? "-eot" + eotIter : "");
    }

    @Override
    public List<LossHead> lossHeads() {
      return List.of(LossHead.DLR_TARGETED);
    }

    @Override
    public int minClasses() {
      return Math.max(4, targets + 1);
    }

    @Override
    public boolean blackBox() {
      return false;
    }
  }

  /**
   * Square attack (Andriushchenko et al., ECCV 2020), black-box random search on the margin; only
   * logits are queried.
   *
   * @param queries iterations (queries after the first) per restart, {@code > 0} (default 5000)
   * @param pInit initial fraction of pixels changed, in {@code (0,1]} (default 0.8)
   * @param restarts runs on still-robust samples, {@code >= 1} (default 1)
   * @param rescaleSchedule stretch the p schedule (written for 10,000 queries) to {@code queries}
   *     (default false, as AutoAttack)
   */
  record Square(Integer queries, Double pInit, Integer restarts, Boolean rescaleSchedule)
      implements AttackSpec {
    /** Applies defaults and validates. */
    public Square {
      queries = positive(queries, 5000, "queries");
      pInit = pInit == null ? 0.8 : pInit;
      if (!(pInit > 0 && pInit <= 1)) {
        throw new IllegalArgumentException("p_init: must be in (0,1], was " + pInit);
      }
      restarts = positive(restarts, 1, "restarts");
      rescaleSchedule = rescaleSchedule != null && rescaleSchedule;
    }

    @Override
    public String label() {
      return "square-" + queries + (restarts > 1 ? "-x" + restarts : "");
    }

    @Override
    public List<LossHead> lossHeads() {
      return List.of();
    }

    @Override
    public int minClasses() {
      return 2;
    }

    @Override
    public boolean blackBox() {
      return true;
    }
  }

  /**
   * FAB-T, the targeted fast adaptive boundary attack (Croce and Hein, ICML 2020): a minimum-norm
   * attack that counts a success only within epsilon; targets are the classes with the 2nd, ...,
   * (targets+1)-th largest clean logit. Uses the {@code ce} and {@code ce-targeted} gradient heads.
   *
   * @param steps iterations per run, {@code > 0} (default 100)
   * @param targets target classes, {@code >= 1} (default 9; needs K >= targets + 1)
   * @param restarts runs per target, {@code >= 1} (default 1)
   * @param alphaMax cap of the weight on the clean point, in {@code [0,1]} (default 0.1)
   * @param eta overshoot, {@code >= 1} (default 1.05)
   * @param beta back-off after a success, in {@code (0,1]} (default 0.9)
   */
  record FabT(
      Integer steps, Integer targets, Integer restarts, Double alphaMax, Double eta, Double beta)
      implements AttackSpec {
    /** Applies defaults and validates. */
    public FabT {
      steps = positive(steps, 100, "steps");
      targets = positive(targets, 9, "targets");
      restarts = positive(restarts, 1, "restarts");
      alphaMax = alphaMax == null ? 0.1 : alphaMax;
      if (!(alphaMax >= 0 && alphaMax <= 1)) {
        throw new IllegalArgumentException("alpha_max: must be in [0,1], was " + alphaMax);
      }
      eta = eta == null ? 1.05 : eta;
      if (!(eta >= 1) || eta.isInfinite()) {
        throw new IllegalArgumentException("eta: must be >= 1, was " + eta);
      }
      beta = beta == null ? 0.9 : beta;
      if (!(beta > 0 && beta <= 1)) {
        throw new IllegalArgumentException("beta: must be in (0,1], was " + beta);
      }
    }

    @Override
    public String label() {
      return "fab-t-" + steps + "-t" + targets + (restarts > 1 ? "-x" + restarts : "");
    }

    @Override
    public List<LossHead> lossHeads() {
      return List.of(LossHead.LOGIT_DIFF);
    }

    @Override
    public int minClasses() {
      return targets + 1;
    }

    @Override
    public boolean blackBox() {
      return false;
    }
  }

  /**
   * A transfer attack: {@code attack} is run on the surrogate model at {@code surrogate} and its
   * candidates are scored on the evaluated model.
   *
   * @param surrogate path of the surrogate model file (ONNX), required
   * @param attack the attack run on the surrogate (any type except {@code transfer}), required
   */
  record Transfer(String surrogate, AttackSpec attack) implements AttackSpec {
    /** Validates. */
    public Transfer {
      if (surrogate == null || surrogate.isBlank()) {
        throw new IllegalArgumentException("surrogate: required, the path of the surrogate model");
      }
      if (attack == null) {
        throw new IllegalArgumentException("attack: required, the attack run on the surrogate");
      }
      if (attack instanceof Transfer) {
        throw new IllegalArgumentException(
            "attack: a transfer attack cannot nest another transfer");
      }
    }

    @Override
    public String label() {
      return "transfer-" + attack.label();
    }

    /**
     * The heads the inner attack requests, from the <em>surrogate</em>; the evaluated model needs
     * none.
     */
    @Override
    public List<LossHead> lossHeads() {
      return attack.lossHeads();
    }

    @Override
    public int minClasses() {
      return attack.minClasses();
    }

    @Override
    public boolean blackBox() {
      return true;
    }
  }

  private static int positive(Integer value, int fallback, String field) {
    int v = value == null ? fallback : value;
    if (v <= 0) {
      throw new IllegalArgumentException(field + ": must be > 0, was " + v);
    }
    return v;
  }

  private static int minClassesOf(LossHead head) {
    return head == LossHead.DLR ? 3 : head == LossHead.DLR_TARGETED ? 4 : 2;
  }
}
