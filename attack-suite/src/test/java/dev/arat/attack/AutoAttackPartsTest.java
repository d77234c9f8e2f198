package dev.arat.attack;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.specs.AttackSpec;
import dev.arat.specs.LossHead;
import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Unit checks of the AutoAttack-family parts: schedules, rounding, class counts, projections. */
class AutoAttackPartsTest {
  static final ThreatModel LINF = new ThreatModel(Norm.LINF, 0.05);

  // ---- APGD checkpoints ----

  @Test
  void apgdCheckpointsForHundredIterations() {
    // intervals 22, 19, 16, 13, 10, 7, 6, 6; value c = "after c gradient steps" (0-based index c-1)
    assertArrayEquals(new int[] {22, 41, 57, 70, 80, 87, 93, 99}, Apgd.checkpoints(100));
  }

  @Test
  void apgdCheckpointsForSmallBudgets() {
    // N = 20: h starts at floor(4.4) = 4, shrinks by max(floor(0.6), 1) = 1, floor max(floor(1.2),
    // 1) = 1
    assertArrayEquals(
        new int[] {4, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, Apgd.checkpoints(20));
    assertArrayEquals(new int[] {1}, Apgd.checkpoints(1));
  }

  // ---- Square schedule, sides and rounding ----

  @Test
  void squarePScheduleWithoutRescaling() {
    double p = 0.8;
    int[][] cases = {
      {0, 1},
      {10, 1},
      {11, 2},
      {50, 2},
      {51, 4},
      {200, 4},
      {201, 8},
      {500, 8},
      {501, 16},
      {1000, 16},
      {1001, 32},
      {2000, 32},
      {2001, 64},
      {4000, 64},
      {4001, 128},
      {4999, 128},
      {6000, 128},
      {6001, 256},
      {8000, 256},
      {8001, 512},
      {9999, 512}
    };
    for (int[] c : cases) {
      assertEquals(p / c[1], Square.pSchedule(p, c[0], 5000, false), 1e-15, "i=" + c[0]);
    }
  }

  @Test
  void squarePScheduleWithRescaling() {
    // i is mapped to floor(i * 10000 / queries): with 1000 queries, i = 801 -> 8010 -> p/512
    assertEquals(0.8 / 512, Square.pSchedule(0.8, 801, 1000, true), 1e-15);
    assertEquals(0.8 / 256, Square.pSchedule(0.8, 800, 1000, true), 1e-15);
    assertEquals(0.8, Square.pSchedule(0.8, 1, 1000, true), 1e-15); // 10 -> p_init
    assertEquals(0.4, Square.pSchedule(0.8, 2, 1000, true), 1e-15); // 20 -> p/2
  }

  @Test
  void squareSideTableFor32x32() {
    double[] p = {0.8, 0.4, 0.2, 0.1, 0.05, 0.025, 0.0125, 0.00625};
    int[] side = {29, 20, 14, 10, 7, 5, 4, 3};
    for (int i = 0; i < p.length; i++) {
      assertEquals(side[i], Square.sideLinf(p[i], 32, 32), "p=" + p[i]);
    }
    // the schedule of AutoAttack (5000 queries, no rescaling) ends at p_init/128
    assertEquals(
        Square.sideLinf(0.8 / 128, 32, 32),
        Square.sideLinf(Square.pSchedule(0.8, 4999, 5000, false), 32, 32));
    assertEquals(1, Square.sideLinf(1e-6, 32, 32));
    assertEquals(28, Square.sideLinf(1.0, 28, 40)); // capped at min(H, W)
  }

  @Test
  void squareRoundsHalfToEvenAsPython() {
    assertEquals(2, Square.roundHalfEven(2.5));
    assertEquals(4, Square.roundHalfEven(3.5));
    assertEquals(3, Square.roundHalfEven(2.5000001));
    // p H W = 6.25 on 5x5 with p = 0.25: sqrt = 2.5 exactly; Python gives 2, Math.round would give
    // 3
    assertEquals(2, Square.sideLinf(0.25, 5, 5));
    assertEquals(3, Math.round(2.5));
  }

  @Test
  void squareL2SidesAreOddAndAtLeastThree() {
    assertEquals(29, Square.sideL2(0.8, 32, 32));
    assertEquals(21, Square.sideL2(0.4, 32, 32)); // 20 -> odd
    assertEquals(3, Square.sideL2(0.001, 32, 32));
    assertEquals(4, Square.sideL2(1.0, 4, 4)); // capped at min(H, W)
  }

  @Test
  void squareBumpsAreUnitNorm() {
    for (int s = 1; s <= 7; s++) {
      for (double[] b :
          new double[][] {
            Square.rectangles(s, s), Square.pseudoGaussian(s, false), Square.pseudoGaussian(s, true)
          }) {
        double sq = 0;
        for (double v : b) {
          sq += v * v;
        }
        assertEquals(1.0, sq, 1e-12, "side " + s);
      }
    }
    // the rectangles peak in the centre: 3x3 has 1 + 1/4 at the centre, 1/4 around it
    double[] r = Square.rectangles(3, 3);
    assertEquals(5.0, r[4] / r[0], 1e-12);
  }

  @Test
  void squareCountsQueries() {
    // a model that ignores its input and predicts class 0: label 1 breaks at the first query,
    // label 0 never breaks and uses 1 + queries per restart
    CountingConstant m = new CountingConstant(4);
    Square sq = new Square(LINF, 25, 0.8, 2, false, 1);
    ImageBatch x = Fixtures.images(1, 2, 5, 5, 0, 1);
    AttackResult r = sq.run(m, x, new int[] {1, 0}, new long[] {0, 1});
    assertTrue(r.success()[0]);
    assertEquals(1, r.iteration()[0]);
    assertFalse(r.success()[1]);
    assertEquals(-1, r.iteration()[1]);
    assertEquals(
        2 + 2 * 26 - 1, m.images, "1 + 1 initial queries, then 25 + 26 for the robust sample");
    assertEquals(0, m.gradientCalls, "square is black-box");
  }

  // ---- class counts and targets ----

  @Test
  void dlrNeedsThreeClasses() {
    LinearClassifier two = LinearClassifier.random(1, 2, 25, 1);
    ImageBatch x = Fixtures.images(1, 3, 5, 5, 0, 1);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new Apgd(LINF, 5, 1, LossHead.DLR, 1).run(two, x, new int[3], new long[3]));
    assertTrue(e.getMessage().contains("at least 3 classes"), e.getMessage());
  }

  @Test
  void targetedDlrNeedsFourClasses() {
    LinearClassifier three = LinearClassifier.random(1, 3, 25, 1);
    ImageBatch x = Fixtures.images(1, 3, 5, 5, 0, 1);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new ApgdTargeted(LINF, 5, 1, 1, 1).run(three, x, new int[3], new long[3]));
    assertTrue(e.getMessage().contains("at least 4 classes"), e.getMessage());
  }

  @Test
  void targetsMustBeFewerThanClasses() {
    LinearClassifier five = LinearClassifier.random(1, 5, 25, 1);
    ImageBatch x = Fixtures.images(1, 3, 5, 5, 0, 1);
    for (Attack a :
        List.<Attack>of(new ApgdTargeted(LINF, 5, 5, 1, 1), new FabTargeted(LINF, 5, 5, 1, 1))) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> a.run(five, x, new int[3], new long[3]));
      assertTrue(e.getMessage().contains("set targets to at most 4"), e.getMessage());
    }
    // 4 targets on 5 classes is fine
    new ApgdTargeted(LINF, 2, 4, 1, 1).run(five, x, new int[3], new long[3]);
  }

  @Test
  void apgdTTriesTargetsByDescendingCleanLogit() {
    float[] logits = {0.5f, 3f, -1f, 2f, 2f};
    int[][] r = ApgdTargeted.rankedClasses(logits, 5, 1);
    assertArrayEquals(new int[] {1, 3, 4, 0, 2}, r[0]); // ties: lower index first
  }

  // ---- FAB projections ----

  @ParameterizedTest
  @EnumSource(Norm.class)
  void fabProjectionWithoutActiveBoxIsTheClosedForm(Norm norm) {
    double[] p = {0.5, 0.5, 0.5, 0.5};
    double[] w = {1, -2, 0.5, 0};
    double c = 0.3;
    double[] d = FabProjections.project(norm, p, w, c);
    double[] expected = new double[4];
    double n1 = 3.5;
    double n2 = 1 + 4 + 0.25;
    for (int j = 0; j < 4; j++) {
      expected[j] = norm == Norm.LINF ? c * Math.signum(w[j]) / n1 : c * w[j] / n2;
    }
    assertArrayEquals(expected, d, 1e-12);
  }

  @ParameterizedTest
  @EnumSource(Norm.class)
  void fabProjectionIsFeasibleAndOptimalWithTheBox(Norm norm) {
    SplittableRandom r = new SplittableRandom(5);
    for (int trial = 0; trial < 200; trial++) {
      int n = 1 + r.nextInt(30);
      double[] p = new double[n];
      double[] w = new double[n];
      double sign = r.nextBoolean() ? 1 : -1;
      double reachable = 0; // largest sign * <w, d> inside the box
      for (int j = 0; j < n; j++) {
        p[j] = r.nextInt(5) == 0 ? (r.nextBoolean() ? 0 : 1) : r.nextDouble();
        w[j] = r.nextInt(6) == 0 ? 0 : AbstractAttack.gaussian(r);
        reachable += sign * w[j] > 0 ? Math.abs(w[j]) * (1 - p[j]) : Math.abs(w[j]) * p[j];
      }
      double c = sign * reachable * 1.2 * r.nextDouble();
      double[] d = FabProjections.project(norm, p, w, c);
      double dot = 0;
      for (int j = 0; j < n; j++) {
        assertTrue(p[j] + d[j] >= -1e-12 && p[j] + d[j] <= 1 + 1e-12, "box");
        dot += w[j] * d[j];
      }
      if (Math.abs(c) <= reachable) {
        assertEquals(c, dot, 1e-9, "on the hyperplane");
      } else {
        assertEquals(Math.signum(c) * reachable, dot, 1e-9, "closest corner");
      }
      // optimality: every coordinate either moves by the common level (t for Linf, lambda |w_j|
      // for L2) or is saturated at its cap below that level
      double level = -1;
      for (int j = 0; j < n; j++) {
        if (w[j] == 0) {
          assertEquals(0, d[j]);
          continue;
        }
        double cap = Math.signum(c) * w[j] > 0 ? 1 - p[j] : p[j];
        double move = Math.abs(d[j]);
        if (move < cap - 1e-12) {
          double l = norm == Norm.LINF ? move : move / Math.abs(w[j]);
          if (level < 0) {
            level = l;
          }
          assertEquals(level, l, 1e-9, "common level");
        }
      }
      for (int j = 0; j < n && level >= 0; j++) {
        double cap = Math.signum(c) * w[j] > 0 ? 1 - p[j] : p[j];
        if (w[j] != 0 && Math.abs(d[j]) >= cap - 1e-12) {
          double l = norm == Norm.LINF ? cap : cap / Math.abs(w[j]);
          assertTrue(l <= level + 1e-9, "saturated coordinates stop below the level");
        }
      }
    }
  }

  /**
   * The selection adds each pivot's reach in its own order and sums in coordinate order only near
   * the target; the displacement must be bit for bit the one of summing every pivot's reach in
   * coordinate order (the oracle below, the previous implementation), also where the target is a
   * breakpoint's exact reach and the two orders could decide differently.
   */
  @ParameterizedTest
  @EnumSource(Norm.class)
  void fabProjectionIsBitIdenticalToSummingEveryReachInOrder(Norm norm) {
    SplittableRandom r = new SplittableRandom(11);
    int fallbackCases = 0;
    for (int trial = 0; trial < 3000; trial++) {
      int n = 1 + r.nextInt(trial % 10 == 0 ? 3000 : 200);
      double[] p = new double[n];
      double[] w = new double[n];
      double scale = Math.pow(10, r.nextInt(13) - 8);
      for (int j = 0; j < n; j++) {
        int kind = r.nextInt(8);
        p[j] = kind == 0 ? 0 : kind == 1 ? 1 : kind == 2 ? 0.5 : r.nextInt(256) / 255.0;
        w[j] =
            r.nextInt(7) == 0 ? 0 : r.nextInt(5) == 0 ? scale : scale * AbstractAttack.gaussian(r);
      }
      if (trial % 50 == 7) {
        // a broken model's gradient: non-finite entries
        w[r.nextInt(n)] = Double.NaN;
        w[r.nextInt(n)] = r.nextBoolean() ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
      }
      double sign = r.nextBoolean() ? 1 : -1;
      double c;
      if (trial % 3 == 0) {
        // exactly the ordered reach at a breakpoint: the decision sits on the margin
        int j = r.nextInt(n);
        double wj = sign * w[j];
        double cap = Math.max(0, wj > 0 ? 1 - p[j] : p[j]);
        double at = norm == Norm.LINF ? cap : cap / Math.max(Math.abs(wj), 1e-300);
        c = sign * orderedReach(norm, p, w, sign, at);
        fallbackCases++;
      } else {
        c = sign * orderedReach(norm, p, w, sign, 2) * 1.1 * r.nextDouble();
      }
      double[] expected = orderedSelection(norm, p, w, c);
      double[] d = FabProjections.project(norm, p, w, c);
      for (int j = 0; j < n; j++) {
        assertEquals(
            Double.doubleToLongBits(expected[j]),
            Double.doubleToLongBits(d[j]),
            "trial " + trial + " coordinate " + j);
      }
    }
    assertTrue(fallbackCases > 500);
  }

  private static double orderedReach(Norm norm, double[] p, double[] w, double sgn, double s) {
    double reach = 0;
    for (int j = 0; j < p.length; j++) {
      double wj = sgn * w[j];
      if (wj == 0 || Double.isNaN(wj)) {
        continue;
      }
      double cap = Math.max(0, wj > 0 ? 1 - p[j] : p[j]);
      double aw = Math.abs(wj);
      reach += aw * Math.min(norm == Norm.LINF ? s : s * aw, cap);
    }
    return reach;
  }

  /** The previous implementation: selection with every pivot's reach summed in order. */
  private static double[] orderedSelection(Norm norm, double[] p, double[] w, double c) {
    int n = p.length;
    double[] d = new double[n];
    if (c == 0 || Double.isNaN(c)) {
      return d;
    }
    double sgn = c > 0 ? 1 : -1;
    double target = Math.abs(c);
    boolean linf = norm == Norm.LINF;
    double[] cap = new double[n];
    double[] aw = new double[n];
    double[] brk = new double[n];
    double[] cand = new double[n];
    int m = 0;
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < n; j++) {
      double wj = sgn * w[j];
      if (wj == 0 || Double.isNaN(wj)) {
        brk[j] = Double.NaN;
        continue;
      }
      cap[j] = Math.max(0, wj > 0 ? 1 - p[j] : p[j]);
      aw[j] = Math.abs(wj);
      brk[j] = linf ? cap[j] : cap[j] / aw[j];
      cand[m++] = brk[j];
      max = Math.max(max, brk[j]);
    }
    if (m == 0) {
      return d;
    }
    double s;
    if (orderedReach(norm, p, w, sgn, max) < target) {
      s = Double.POSITIVE_INFINITY;
    } else {
      double found = max;
      double below = Double.NEGATIVE_INFINITY;
      int left = m;
      while (left > 0) {
        double a = cand[0];
        double b = cand[left / 2];
        double e = cand[left - 1];
        double pivot = Math.max(Math.min(a, b), Math.min(Math.max(a, b), e));
        if (orderedReach(norm, p, w, sgn, pivot) >= target) {
          found = pivot;
        } else {
          below = pivot;
        }
        int kept = 0;
        for (int i = 0; i < left; i++) {
          if (cand[i] > below && cand[i] < found) {
            cand[kept++] = cand[i];
          }
        }
        left = kept;
      }
      below = below == Double.NEGATIVE_INFINITY ? 0 : below;
      double fixed = 0;
      double slope = 0;
      for (int j = 0; j < n; j++) {
        if (Double.isNaN(brk[j])) {
          continue;
        }
        if (brk[j] <= below) {
          fixed += aw[j] * cap[j];
        } else {
          slope += linf ? aw[j] : aw[j] * aw[j];
        }
      }
      s = slope > 0 ? (target - fixed) / slope : below;
    }
    for (int j = 0; j < n; j++) {
      if (Double.isNaN(brk[j])) {
        continue;
      }
      double move = Math.min(linf ? s : s * aw[j], cap[j]);
      d[j] = (sgn * w[j] > 0 ? 1 : -1) * move;
    }
    return d;
  }

  // ---- EoT and transfer ----

  @Test
  void eotAveragesGradientsAndKeepsTheLastPass() {
    CountingConstant m = new CountingConstant(4);
    Eot e = new Eot(m, 4);
    ImageBatch x = Fixtures.images(1, 1, 5, 5, 0, 1);
    LossGradient g = e.lossGradient(x, new int[] {0}, null, LossHead.CE);
    assertEquals(4, m.gradientCalls);
    // the stub's gradient is the call number 1, 2, 3, 4 everywhere: mean 2.5
    assertEquals(2.5f, g.gradient()[0]);
    assertEquals(4f, g.losses()[0], "loss of the last pass");
    assertTrue(Eot.wrap(m, 1) == m);
    assertThrows(IllegalArgumentException.class, () -> new Eot(m, 0));
  }

  @Test
  void transferScoresSurrogateCandidatesOnTheTarget() {
    LinearClassifier target = LinearClassifier.random(5, 4, 25, 1);
    LinearClassifier surrogate = LinearClassifier.random(6, 4, 25, 1);
    ImageBatch x = Fixtures.images(3, 20, 5, 5, 0, 1);
    int[] y = Classifier.argmax(target.logits(x), 4);
    long[] ids = Fixtures.ids(20, 0);
    Apgd inner = new Apgd(LINF, 10, 1, LossHead.CE, 3);
    Transfer t = new Transfer(inner, surrogate, "lin-6");
    AttackResult r = t.run(target, x, y, ids);
    assertArrayEquals(inner.run(surrogate, x, y, ids).adversarial().data(), r.adversarial().data());
    assertEquals(0, target.gradientCalls, "the target is only queried for logits");
    assertEquals("transfer-apgd-ce-10", t.name());
    assertEquals("lin-6", t.settings().get("surrogate"));
    // with the target as its own surrogate it is the inner attack
    AttackResult self = new Transfer(inner, target, "self").run(target, x, y, ids);
    assertArrayEquals(inner.run(target, x, y, ids).success(), self.success());
  }

  // ---- building from specs ----

  @Test
  void attacksFromSpecsCarryTheirLabels() {
    List<AttackSpec> specs =
        List.of(
            new AttackSpec.Apgd(LossHead.DLR, 50, 2, null, null),
            new AttackSpec.ApgdT(null, 3, null, null, 20),
            new AttackSpec.Square(300, null, null, true),
            new AttackSpec.FabT(null, null, null, null, null, null));
    for (AttackSpec s : specs) {
      Attack a = Attacks.fromSpec(s, LINF, 1);
      assertEquals(s.label(), a.name());
      assertEquals(LINF, a.threat());
    }
    AttackSpec.Transfer t = new AttackSpec.Transfer("s.onnx", specs.get(0));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Attacks.fromSpec(t, LINF, 1));
    assertTrue(e.getMessage().contains("surrogate"), e.getMessage());
    LinearClassifier sur = LinearClassifier.random(1, 4, 25, 1);
    Attack a = Attacks.fromSpec(t, LINF, 1, path -> sur);
    assertEquals(t.label(), a.name());
  }

  /** Ignores its input: logits favour class 0; the gradient is the call number everywhere. */
  static final class CountingConstant implements GradientClassifier {
    final int k;
    int images;
    int gradientCalls;

    CountingConstant(int k) {
      this.k = k;
    }

    @Override
    public int numClasses() {
      return k;
    }

    @Override
    public float[] logits(ImageBatch x) {
      images += x.n();
      float[] z = new float[x.n() * k];
      for (int i = 0; i < x.n(); i++) {
        z[i * k] = 1;
      }
      return z;
    }

    @Override
    public LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head) {
      gradientCalls++;
      float[] g = new float[x.data().length];
      java.util.Arrays.fill(g, gradientCalls);
      float[] l = new float[x.n()];
      java.util.Arrays.fill(l, gradientCalls);
      return new LossGradient(logits(x), l, g);
    }
  }
}
