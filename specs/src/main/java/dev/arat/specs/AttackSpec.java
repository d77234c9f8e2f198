package dev.arat.specs;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * One attack of an evaluation suite's cascade, selected by its {@code type} key. Settings are
 * validated on load; every setting appears in the report exactly as used.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = AttackSpec.Fgsm.class, name = "fgsm"),
  @JsonSubTypes.Type(value = AttackSpec.Pgd.class, name = "pgd")
})
public sealed interface AttackSpec {
  /** The attack's name in reports, e.g. {@code pgd-20-ce}. */
  String label();

  /**
   * Fast gradient sign method (Goodfellow et al., 2015); under L2 it is the normalised gradient
   * step. One step of size epsilon, no random start.
   *
   * @param loss the loss head it ascends (default {@code ce})
   */
  record Fgsm(LossHead loss) implements AttackSpec {
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
      implements AttackSpec {
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
}
