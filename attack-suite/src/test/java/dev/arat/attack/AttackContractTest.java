package dev.arat.attack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.specs.LossHead;
import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** One contract, checked for every attack and both norms. */
class AttackContractTest {
  static final int N = 24;
  static final int K = 4;
  static final int H = 5;
  static final int W = 5;

  static Stream<Arguments> attacks() {
    List<Function<ThreatModel, Attack>> makers =
        List.of(
            t -> new Fgsm(t, LossHead.CE),
            t -> new Fgsm(t, LossHead.DLR),
            t -> new Pgd(t, 8, t.epsilon() / 4, 1, LossHead.CE, true, 11),
            t -> new Pgd(t, 6, t.epsilon() / 3, 3, LossHead.MARGIN, true, 12),
            t -> new Pgd(t, 6, t.epsilon() / 2, 1, LossHead.DLR, false, 13),
            t -> new Apgd(t, 10, 1, LossHead.CE, 14),
            t -> new Apgd(t, 8, 2, LossHead.DLR, 15),
            t -> new Apgd(t, 5, 1, LossHead.CE, Apgd.DEFAULT_RHO, 2, 16),
            t -> new ApgdTargeted(t, 8, 3, 1, 17),
            t -> new ApgdTargeted(t, 5, 2, 2, Apgd.DEFAULT_RHO, 2, 18),
            t -> new Square(t, 60, 0.8, 2, false, 19),
            t -> new Square(t, 40, 0.3, 1, true, 20),
            t -> new FabTargeted(t, 10, 3, 1, 21),
            t -> new FabTargeted(t, 6, 2, 2, 22),
            t ->
                new Transfer(
                    new Apgd(t, 6, 1, LossHead.CE, 23),
                    LinearClassifier.random(6, K, H * W, 1.0),
                    "lin-6"));
    List<ThreatModel> threats =
        List.of(new ThreatModel(Norm.LINF, 0.05), new ThreatModel(Norm.L2, 0.4));
    return threats.stream()
        .flatMap(
            t ->
                makers.stream()
                    .map(
                        m -> {
                          Attack a = m.apply(t);
                          return Arguments.of(a.name() + " " + t.label(), a);
                        }));
  }

  private static LinearClassifier model() {
    return LinearClassifier.random(5, K, H * W, 1.0);
  }

  /** Labels = the model's clean predictions, so clean accuracy is 1 and attacks have work to do. */
  private static int[] labels(LinearClassifier m, ImageBatch x) {
    return Classifier.argmax(m.logits(x), K);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("attacks")
  void candidatesStayInBudgetAndBox(String label, Attack attack) {
    LinearClassifier m = model();
    // values reach the box edges so the [0,1] clip matters
    ImageBatch x = Fixtures.images(1, N, H, W, 0.0, 1.0);
    int[] y = labels(m, x);
    AttackResult r = attack.run(m, x, y, Fixtures.ids(N, 100));
    assertEquals(N, r.adversarial().n());
    int per = x.imageSize();
    float[] logits = m.logits(r.adversarial());
    for (int i = 0; i < N; i++) {
      assertTrue(
          Projections.withinBudget(attack.threat(), x.data(), r.adversarial().data(), i * per, per),
          "sample " + i + " out of budget");
      boolean mis = AbstractAttack.argmax(logits, K, i) != y[i];
      assertEquals(
          mis, r.success()[i], "success flag of sample " + i + " must match the returned point");
      assertEquals(r.success()[i], r.iteration()[i] >= 0);
    }
  }

  /**
   * Successes on the clean-correct samples of an easy problem (a linear model, labels its own
   * predictions, so some samples lie within the budget of its decision boundary).
   */
  private static int successesOnEasyProblem(Attack attack) {
    LinearClassifier m = model();
    ImageBatch x = Fixtures.images(5, N, H, W, 0.0, 1.0);
    int[] y = labels(m, x);
    AttackResult r = attack.run(m, x, y, Fixtures.ids(N, 500));
    int k = 0;
    for (boolean b : r.success()) {
      k += b ? 1 : 0;
    }
    return k;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("attacks")
  void breaksSomeSamplesOfAnEasyProblem(String label, Attack attack) {
    assertTrue(successesOnEasyProblem(attack) > 0, label + " broke no sample: does it attack?");
  }

  /** An attack that returns its input unchanged fails {@link #breaksSomeSamplesOfAnEasyProblem}. */
  @org.junit.jupiter.api.Test
  void anAttackThatDoesNothingFailsTheContract() {
    ThreatModel t = new ThreatModel(Norm.LINF, 0.05);
    Attack nothing =
        new Attack() {
          @Override
          public String name() {
            return "nothing";
          }

          @Override
          public ThreatModel threat() {
            return t;
          }

          @Override
          public java.util.Map<String, Object> settings() {
            return java.util.Map.of();
          }

          @Override
          public AttackResult run(
              GradientClassifier model, ImageBatch x, int[] labels, long[] ids) {
            return new AttackResult(x, new boolean[x.n()], filled(x.n(), -1));
          }
        };
    assertEquals(0, successesOnEasyProblem(nothing));
  }

  private static int[] filled(int n, int v) {
    int[] a = new int[n];
    java.util.Arrays.fill(a, v);
    return a;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("attacks")
  void robustAccuracyAtMostClean(String label, Attack attack) {
    LinearClassifier m = model();
    ImageBatch x = Fixtures.images(2, N, H, W, 0.0, 1.0);
    int[] y = new int[N];
    for (int i = 0; i < N; i++) {
      y[i] = i % K; // some samples clean-misclassified
    }
    CascadeResult r =
        new Cascade(attack.threat(), List.of(attack), 7).run(m, m, x, y, Fixtures.ids(N, 0), null);
    assertTrue(r.robustCount() <= r.cleanCorrect());
    assertTrue(r.violations().isEmpty());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("attacks")
  void deterministicForASeed(String label, Attack attack) {
    LinearClassifier m = model();
    ImageBatch x = Fixtures.images(3, N, H, W, 0.0, 1.0);
    int[] y = labels(m, x);
    long[] ids = Fixtures.ids(N, 3);
    AttackResult a = attack.run(m, x, y, ids);
    AttackResult b = attack.run(m, x, y, ids);
    assertArrayEquals(a.adversarial().data(), b.adversarial().data());
    assertArrayEquals(a.success(), b.success());
    assertArrayEquals(a.iteration(), b.iteration());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("attacks")
  void perSampleResultsIgnoreBatchOrderAndSplit(String label, Attack attack) {
    LinearClassifier m = model();
    ImageBatch x = Fixtures.images(4, N, H, W, 0.0, 1.0);
    int[] y = labels(m, x);
    long[] ids = Fixtures.ids(N, 40);
    AttackResult full = attack.run(m, x, y, ids);
    int per = x.imageSize();

    int[] perm = dev.arat.attack.Seeds.forSample(9, 9).ints(0, N).distinct().limit(N).toArray();
    AttackResult p =
        attack.run(m, x.select(perm), Fixtures.pick(y, perm), Fixtures.pick(ids, perm));
    for (int j = 0; j < N; j++) {
      int i = perm[j];
      assertSame(full, i, p, j, per);
    }
    int[] first = {0, 1, 2, 3, 4, 5, 6};
    int[] rest = new int[N - first.length];
    for (int i = first.length; i < N; i++) {
      rest[i - first.length] = i;
    }
    for (int[] part : new int[][] {first, rest}) {
      AttackResult s =
          attack.run(m, x.select(part), Fixtures.pick(y, part), Fixtures.pick(ids, part));
      for (int j = 0; j < part.length; j++) {
        assertSame(full, part[j], s, j, per);
      }
    }
  }

  private static void assertSame(AttackResult a, int i, AttackResult b, int j, int per) {
    assertEquals(a.success()[i], b.success()[j], "success of sample " + i);
    assertEquals(a.iteration()[i], b.iteration()[j], "iteration of sample " + i);
    for (int q = 0; q < per; q++) {
      assertEquals(
          a.adversarial().data()[i * per + q],
          b.adversarial().data()[j * per + q],
          "pixel of sample " + i);
    }
  }
}
