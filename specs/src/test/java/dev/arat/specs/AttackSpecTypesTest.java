package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The AutoAttack-family attack types of suites: defaults, labels, strict validation, round trip.
 */
class AttackSpecTypesTest {
  private static EvaluationSuite suite(String... attackLines) {
    StringBuilder sb = new StringBuilder("threat_model: {norm: Linf, epsilon: 0.03}\nattacks:\n");
    for (String a : attackLines) {
      sb.append("  - ").append(a).append('\n');
    }
    return Specs.parse(sb.toString(), EvaluationSuite.class, "suite.yaml");
  }

  private static AttackSpec one(String attackLine) {
    return suite(attackLine).attacks().get(0);
  }

  @Test
  void defaultsFollowAutoAttackStandard() {
    AttackSpec.Apgd apgd = assertInstanceOf(AttackSpec.Apgd.class, one("{type: apgd}"));
    assertEquals(LossHead.CE, apgd.loss());
    assertEquals(100, apgd.steps());
    assertEquals(1, apgd.restarts());
    assertEquals(0.75, apgd.rho());
    assertEquals(1, apgd.eotIter());
    assertEquals("apgd-ce-100", apgd.label());

    AttackSpec.ApgdT t = assertInstanceOf(AttackSpec.ApgdT.class, one("{type: apgd-t}"));
    assertEquals(100, t.steps());
    assertEquals(9, t.targets());
    assertEquals(1, t.restarts());
    assertEquals("apgd-t-100-t9", t.label());
    assertEquals(List.of(LossHead.DLR_TARGETED), t.lossHeads());
    assertEquals(10, t.minClasses());

    AttackSpec.Square sq = assertInstanceOf(AttackSpec.Square.class, one("{type: square}"));
    assertEquals(5000, sq.queries());
    assertEquals(0.8, sq.pInit());
    assertEquals(1, sq.restarts());
    assertFalse(sq.rescaleSchedule());
    assertEquals("square-5000", sq.label());
    assertTrue(sq.lossHeads().isEmpty());

    AttackSpec.FabT fab = assertInstanceOf(AttackSpec.FabT.class, one("{type: fab-t}"));
    assertEquals(100, fab.steps());
    assertEquals(9, fab.targets());
    assertEquals(0.1, fab.alphaMax());
    assertEquals(1.05, fab.eta());
    assertEquals(0.9, fab.beta());
    assertEquals("fab-t-100-t9", fab.label());
    assertEquals(List.of(LossHead.LOGIT_DIFF), fab.lossHeads());
  }

  @Test
  void keysAreSnakeCase() {
    AttackSpec.Apgd a =
        assertInstanceOf(
            AttackSpec.Apgd.class,
            one("{type: apgd, loss: dlr, steps: 50, restarts: 2, rho: 0.6, eot_iter: 20}"));
    assertEquals("apgd-dlr-50-x2-eot20", a.label());
    assertEquals(3, a.minClasses());
    AttackSpec.Square s =
        assertInstanceOf(
            AttackSpec.Square.class,
            one("{type: square, queries: 300, p_init: 0.3, restarts: 2, rescale_schedule: true}"));
    assertEquals(0.3, s.pInit());
    assertTrue(s.rescaleSchedule());
    assertEquals("square-300-x2", s.label());
    AttackSpec.FabT f =
        assertInstanceOf(
            AttackSpec.FabT.class,
            one("{type: fab-t, steps: 20, targets: 3, alpha_max: 0.2, eta: 1.1, beta: 0.8}"));
    assertEquals(0.2, f.alphaMax());
    assertEquals(4, f.minClasses());
  }

  @Test
  void transferNestsAnAttack() {
    AttackSpec.Transfer t =
        assertInstanceOf(
            AttackSpec.Transfer.class,
            one(
                "{type: transfer, surrogate: models/surrogate.onnx, attack: {type: apgd, steps: 10}}"));
    assertEquals("models/surrogate.onnx", t.surrogate());
    assertEquals("transfer-apgd-ce-10", t.label());
    assertEquals(List.of(LossHead.CE), t.lossHeads());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "{type: apgd, loss: margin}|loss: apgd takes ce or dlr",
        "{type: apgd, loss: dlr-targeted}|loss: apgd takes ce or dlr",
        "{type: apgd, steps: 0}|steps: must be > 0",
        "{type: apgd, rho: 1.0}|rho: must be in (0,1)",
        "{type: apgd, eot_iter: 0}|eot_iter: must be > 0",
        "{type: apgd-t, targets: 0}|targets: must be > 0",
        "{type: apgd-t, restarts: -1}|restarts: must be > 0",
        "{type: square, p_init: 1.5}|p_init: must be in (0,1]",
        "{type: square, queries: 0}|queries: must be > 0",
        "{type: fab-t, eta: 0.9}|eta: must be >= 1",
        "{type: fab-t, beta: 0}|beta: must be in (0,1]",
        "{type: fab-t, alpha_max: 2}|alpha_max: must be in [0,1]",
        "{type: transfer, attack: {type: fgsm}}|surrogate: required",
        "{type: transfer, surrogate: s.onnx}|attack: required",
        "{type: transfer, surrogate: s.onnx, attack: {type: transfer, surrogate: t.onnx, attack: {type: fgsm}}}"
            + "|cannot nest",
        "{type: square, p: 0.5}|unknown key 'p'",
        "{type: fab-t, eot_iter: 2}|unknown key 'eot_iter'",
        "{type: apgd, steps: 2.5}|expected a whole number",
        "{type: apgd-targeted}|unknown type 'apgd-targeted'"
      })
  void invalidEntriesAreNamed(String entry, String message) {
    SpecException e = assertThrows(SpecException.class, () -> suite(entry));
    assertTrue(e.getMessage().contains(message), e.getMessage());
    assertTrue(e.getMessage().startsWith("suite.yaml: "), e.getMessage());
  }

  @Test
  void everyTypeRoundTripsThroughYaml() {
    EvaluationSuite s =
        suite(
            "{type: apgd, loss: dlr, eot_iter: 4}",
            "{type: apgd-t, targets: 3}",
            "{type: square, queries: 100, rescale_schedule: true}",
            "{type: fab-t, steps: 7}",
            "{type: transfer, surrogate: s.onnx, attack: {type: pgd, steps: 5}}");
    EvaluationSuite again = Specs.parse(Specs.toYaml(s), EvaluationSuite.class, "again.yaml");
    assertEquals(s, again);
  }
}
