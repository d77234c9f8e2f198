package dev.arat.attack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.specs.LossHead;
import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * On a 2-class linear model the minimal adversarial distance is known in closed form: {@code
 * |margin| / ||w1 - w0||_1} under Linf and {@code |margin| / ||w1 - w0||_2} under L2 (when the box
 * does not bind). PGD's (and FGSM's) robust accuracy must match the exact one within one point.
 */
class LinearClosedFormTest {
  @ParameterizedTest(name = "{3} {0} eps={1} loss={2}")
  @CsvSource({"Linf, 0.02, ce, pgd", "L2, 0.1, ce, pgd", "Linf, 0.02, margin, pgd", "L2, 0.1, margin, pgd",
      "Linf, 0.02, ce, fgsm", "L2, 0.1, ce, fgsm"})
  void attackMatchesExactRobustAccuracy(String norm, double eps, String loss, String attackType) {
    int n = 300;
    int d = 16;
    LinearClassifier m = LinearClassifier.random(21, 2, d, 1.0);
    // pixels in [0.3, 0.7]: a ball of radius <= 0.1 never touches the box
    ImageBatch x = Fixtures.images(22, n, 4, 4, 0.3, 0.7);
    // centre the margins around 0 so the threshold cuts the set
    float[] z0 = m.logits(x);
    double mean = 0;
    for (int i = 0; i < n; i++) {
      mean += z0[2 * i + 1] - z0[2 * i];
    }
    m.b[1] = (float) (-mean / n);
    float[] z = m.logits(x);
    int[] y = new int[n];
    for (int i = 0; i < n; i++) {
      int pred = z[2 * i + 1] > z[2 * i] ? 1 : 0;
      y[i] = i % 10 == 0 ? 1 - pred : pred; // 10% clean errors
    }
    ThreatModel threat = new ThreatModel(Norm.fromId(norm), eps);
    double dual = 0;
    for (int j = 0; j < d; j++) {
      double dw = m.w[d + j] - m.w[j];
      dual += threat.norm() == Norm.LINF ? Math.abs(dw) : dw * dw;
    }
    dual = threat.norm() == Norm.LINF ? dual : Math.sqrt(dual);
    int exact = 0;
    int clean = 0;
    for (int i = 0; i < n; i++) {
      double marginTrue = (z[2 * i + y[i]] - z[2 * i + 1 - y[i]]);
      if (marginTrue > 0) {
        clean++;
        if (marginTrue / dual > eps) {
          exact++;
        }
      }
    }
    assertTrue(exact > n / 10 && exact < clean - n / 10, "fixture should cut the set, exact=" + exact);
    // on a 2-class linear model one full step along the dual direction is optimal, so FGSM is exact too
    Attack attack = attackType.equals("pgd")
        ? new Pgd(threat, 20, eps / 4, 1, LossHead.fromId(loss), true, 3)
        : new Fgsm(threat, LossHead.fromId(loss));
    CascadeResult r = new Cascade(threat, List.of(attack), 64).run(m, m, x, y, Fixtures.ids(n, 0), null);
    assertEquals(clean, r.cleanCorrect());
    double robustAcc = 100.0 * r.robustCount() / n;
    double exactAcc = 100.0 * exact / n;
    assertEquals(exactAcc, robustAcc, 1.0, attackType + " robust accuracy vs closed form");
    assertTrue(r.robustCount() >= exact, "no attack can beat the exact minimal distance");
  }
}
