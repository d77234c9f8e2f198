package dev.arat.attack;

import dev.arat.specs.LossHead;
import dev.arat.specs.ThreatModel;
import java.util.Map;

/**
 * Fast gradient sign method (Goodfellow, Shlens and Szegedy, "Explaining and Harnessing Adversarial
 * Examples", ICLR 2015). Norm: Linf (one step {@code eps * sign(grad)}) or L2 (one step {@code eps
 * * grad/||grad||_2}), from the clean input, then projection onto the ball and {@code [0,1]}. No
 * randomness. A success is reported at iteration 1.
 */
public final class Fgsm extends AbstractAttack {
  private final LossHead loss;

  /**
   * Creates the attack.
   *
   * @param threat the budget (Linf or L2)
   * @param loss an untargeted loss head to ascend (CE, MARGIN or DLR)
   */
  public Fgsm(ThreatModel threat, LossHead loss) {
    super(threat, 0L);
    if (loss == null || loss.targeted()) {
      throw new IllegalArgumentException(
          "fgsm: loss must be an untargeted head (ce, margin, dlr), was " + loss);
    }
    this.loss = loss;
  }

  @Override
  public String name() {
    return "fgsm-" + loss.id();
  }

  @Override
  public Map<String, Object> settings() {
    Map<String, Object> s = baseSettings("fgsm", "Goodfellow et al. 2015");
    s.put("step_size", threat.epsilon());
    s.put("steps", 1);
    s.put("loss", loss.id());
    s.put("random_start", false);
    return s;
  }

  @Override
  protected void attack(
      GradientClassifier model, ImageBatch x, int[] labels, long[] sampleIds, Candidates c) {
    int n = x.n();
    int per = x.imageSize();
    float[] x0 = x.data();
    float[] adv = c.out;
    boolean[] success = c.success;
    int[] iteration = c.iteration;
    LossGradient g = model.lossGradient(x, labels, null, loss);
    for (int i = 0; i < n; i++) {
      ascend(threat.norm(), threat.epsilon(), adv, g.gradient(), i * per, i * per, per);
      Projections.project(threat.norm(), threat.epsilon(), x0, adv, i * per, per);
    }
    ImageBatch out = x.with(adv);
    float[] logits = model.logits(out);
    int k = model.numClasses();
    for (int i = 0; i < n; i++) {
      success[i] = argmax(logits, k, i) != labels[i];
      iteration[i] = success[i] ? 1 : -1;
    }
  }
}
