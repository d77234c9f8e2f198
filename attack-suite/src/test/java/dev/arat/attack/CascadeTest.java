package dev.arat.attack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.specs.AttackSpec;
import dev.arat.specs.LossHead;
import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CascadeTest {
  static final ThreatModel LINF = new ThreatModel(Norm.LINF, 0.05);

  /** An attack that returns fixed candidates built by a function, for cascade tests. */
  static final class FakeAttack implements Attack {
    final String name;
    final ThreatModel threat;
    final java.util.function.BiFunction<ImageBatch, long[], float[]> make;
    final boolean claim;
    final List<Long> seen = new ArrayList<>();

    FakeAttack(
        String name,
        ThreatModel threat,
        boolean claim,
        java.util.function.BiFunction<ImageBatch, long[], float[]> make) {
      this.name = name;
      this.threat = threat;
      this.claim = claim;
      this.make = make;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public ThreatModel threat() {
      return threat;
    }

    @Override
    public Map<String, Object> settings() {
      return Map.of("attack", name);
    }

    @Override
    public AttackResult run(GradientClassifier model, ImageBatch x, int[] labels, long[] ids) {
      for (long id : ids) {
        seen.add(id);
      }
      boolean[] s = new boolean[x.n()];
      int[] it = new int[x.n()];
      Arrays.fill(s, claim);
      Arrays.fill(it, claim ? 3 : -1);
      return new AttackResult(x.with(make.apply(x, ids)), s, it);
    }
  }

  /** Linear 2-class model on 1x1x2 images: logit1 - logit0 = x1 - x0; class 1 iff x1 > x0. */
  static LinearClassifier twoPixel() {
    return new LinearClassifier(new float[] {1, 0, 0, 1}, new float[2], 2, 2);
  }

  static ImageBatch batch(float... v) {
    return new ImageBatch(v, v.length / 2, 1, 1, 2);
  }

  @Test
  void budgetViolationIsCountedNeverASuccess() {
    LinearClassifier m = twoPixel();
    // four samples, all class 0 (x0 > x1); margins 0.02, 0.02, 0.3, 0.3
    ImageBatch x = batch(0.51f, 0.49f, 0.51f, 0.49f, 0.65f, 0.35f, 0.65f, 0.35f);
    int[] y = {0, 0, 0, 0};
    // moves pixel 1 up by 0.5: misclassifies everything, far beyond eps
    FakeAttack cheat =
        new FakeAttack(
            "cheat",
            LINF,
            true,
            (b, ids) -> {
              float[] v = b.data().clone();
              for (int i = 0; i < b.n(); i++) {
                v[2 * i + 1] += 0.5f;
              }
              return v;
            });
    CascadeResult r =
        new Cascade(LINF, List.of(cheat), 3).run(m, m, x, y, new long[] {10, 11, 12, 13}, null);
    assertEquals(4, r.cleanCorrect());
    assertEquals(4, r.robustCount());
    assertEquals(4, r.violations().size());
    CascadeResult.Violation v = r.violations().get(0);
    assertEquals("cheat", v.attack());
    assertTrue(v.misclassified());
    assertEquals(0.5, v.linf(), 1e-6);
    assertTrue(v.reason().contains("Linf norm"), v.reason());
    CascadeResult.AttackStats s = r.attacks().get(0);
    assertEquals(0, s.successes());
    assertEquals(4, s.violations());
    assertEquals(4, s.robustAfter());
  }

  @Test
  void nanAndOutOfBoxCandidatesAreViolations() {
    LinearClassifier m = twoPixel();
    ImageBatch x = batch(0.51f, 0.49f, 0.02f, 0.0f);
    FakeAttack bad =
        new FakeAttack(
            "bad",
            LINF,
            true,
            (b, ids) -> {
              float[] v = b.data().clone();
              v[0] = Float.NaN;
              v[3] = -0.01f; // within eps of 0.0 but outside the box
              return v;
            });
    CascadeResult r =
        new Cascade(LINF, List.of(bad), 8).run(m, m, x, new int[] {0, 0}, new long[] {0, 1}, null);
    assertEquals(2, r.violations().size());
    assertTrue(r.violations().get(0).reason().contains("NaN"));
    assertTrue(r.violations().get(1).reason().contains("[0,1]"));
    assertEquals(2, r.robustCount());
  }

  @Test
  void attacksOnlySeeRobustSamplesAndDeployedModelDecides() {
    LinearClassifier m = twoPixel();
    // sample 0 margin 0.02 (breakable with eps 0.05), sample 1 margin 0.3, sample 2 clean-wrong
    ImageBatch x = batch(0.51f, 0.49f, 0.65f, 0.35f, 0.4f, 0.6f);
    int[] y = {0, 0, 0};
    long[] ids = {100, 101, 102};
    FakeAttack honest =
        new FakeAttack(
            "honest",
            LINF,
            false,
            (b, idb) -> {
              float[] v = b.data().clone();
              for (int i = 0; i < b.n(); i++) {
                v[2 * i] -= 0.05f;
                v[2 * i + 1] += 0.05f;
              }
              return v;
            });
    // claims success on everything but changes nothing: the deployed model must not confirm
    FakeAttack liar = new FakeAttack("liar", LINF, true, (b, idb) -> b.data().clone());
    CascadeResult r = new Cascade(LINF, List.of(honest, liar), 2).run(m, m, x, y, ids, null);
    assertEquals(List.of(100L, 101L), honest.seen);
    assertEquals(List.of(101L), liar.seen);
    assertEquals(2, r.cleanCorrect());
    assertEquals(1, r.robustCount());
    CascadeResult.SampleOutcome s0 = r.samples().get(0);
    assertFalse(s0.robust());
    assertEquals("honest", s0.brokenBy());
    assertEquals(0, s0.attackIndex());
    assertEquals(
        -1, s0.iteration()); // honest claims nothing: the iteration is as the attack reported it
    assertEquals(0.05, s0.linf(), 1e-6);
    assertTrue(s0.margin() < 0);
    CascadeResult.SampleOutcome s1 = r.samples().get(1);
    assertTrue(s1.robust());
    assertNull(s1.brokenBy());
    assertEquals(0.3 - 0.1, s1.margin(), 1e-5); // lowest-margin valid candidate
    assertEquals(1, r.attacks().get(0).robustAfter());
    assertEquals(1, r.attacks().get(1).unconfirmed());
    assertEquals(0, r.attacks().get(1).successes());
    CascadeResult.SampleOutcome s2 = r.samples().get(2);
    assertFalse(s2.cleanCorrect());
    assertFalse(s2.robust());
    assertNull(s2.brokenBy());
  }

  @Test
  void countsTheModelCallsOfEachAttack() {
    // a budget too small to break anything, so every attack runs all its iterations
    ThreatModel tiny = new ThreatModel(Norm.LINF, 1e-4);
    LinearClassifier attacked = LinearClassifier.random(3, 10, 16, 1.0);
    LinearClassifier deployed = new LinearClassifier(attacked.w, attacked.b, 10, 16);
    ImageBatch x = Fixtures.images(4, 7, 4, 4, 0.2, 0.8);
    int[] y = Classifier.argmax(deployed.logits(x), 10);
    Pgd pgd = new Pgd(tiny, 5, 1e-5, 1, LossHead.CE, false, 1);
    FabTargeted fab = new FabTargeted(tiny, 4, 2, 1, 2);
    CascadeResult r =
        new Cascade(tiny, List.of(pgd, fab), 3)
            .run(attacked, deployed, x, y, Fixtures.ids(7, 0), null);
    assertEquals(7, r.robustCount());
    ModelCalls p = r.attacks().get(0).calls();
    ModelCalls f = r.attacks().get(1).calls();
    assertEquals(7 * 5, p.gradientImages()); // one gradient per step and sample
    assertEquals(3 * 5, p.gradientCalls()); // batches of 3, 3, 1
    // FAB-T: per batch a forward for the clean logits, then per target and step one gradient and
    // one forward (the check of the new iterate)
    assertEquals(3 * (1 + 2 * 4), f.forwardCalls());
    assertEquals(7 * (1 + 2 * 4), f.forwardImages());
    assertEquals(3 * 2 * 4, f.gradientCalls());
    assertEquals(7 * 2 * 4, f.gradientImages());
    assertEquals(attacked.gradientCalls, p.gradientCalls() + f.gradientCalls());
    assertTrue(p.gradientSeconds() >= 0 && f.forwardSeconds() >= 0);
  }

  @Test
  void stopsEarlyAndReportsSkippedAttacks() {
    LinearClassifier m = twoPixel();
    ImageBatch x = batch(0.51f, 0.49f);
    Pgd pgd = new Pgd(LINF, 5, 0.02, 1, LossHead.CE, true, 1);
    FakeAttack never =
        new FakeAttack(
            "never",
            LINF,
            false,
            (b, ids) -> {
              throw new AssertionError("must not run");
            });
    CascadeResult r =
        new Cascade(LINF, List.of(pgd, never), 4).run(m, m, x, new int[] {0}, new long[] {5}, null);
    assertEquals(0, r.robustCount());
    assertTrue(r.attacks().get(1).skipped());
    assertEquals(0, r.attacks().get(1).attempted());
  }

  @Test
  void rejectsAttackWithAnotherBudget() {
    Attack a = new Fgsm(new ThreatModel(Norm.L2, 0.5), LossHead.CE);
    assertThrows(IllegalArgumentException.class, () -> new Cascade(LINF, List.of(a), 4));
  }

  @Test
  void buildsAttacksFromSpecs() {
    Attack p = Attacks.fromSpec(new AttackSpec.Pgd(10, null, 2, LossHead.MARGIN, null), LINF, 7);
    assertEquals("pgd-10-margin-x2", p.name());
    assertEquals(0.05 / 4, p.settings().get("step_size"));
    assertEquals(7L, p.settings().get("seed"));
    assertEquals("fgsm-ce", Attacks.fromSpec(new AttackSpec.Fgsm(null), LINF, 7).name());
    assertTrue(Attacks.seedFor(1, 0) != Attacks.seedFor(1, 1));
  }
}
