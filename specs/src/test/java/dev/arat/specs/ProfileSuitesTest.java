package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The built-in attack profiles: what each one runs. */
class ProfileSuitesTest {
  @ParameterizedTest
  @ValueSource(strings = {"autoattack-standard", "autoattack-standard-l2"})
  void standardProfilesAreAutoAttackStandard(String name) {
    EvaluationSuite s = Builtins.suite(name);
    assertEquals(name, s.name());
    assertEquals(1000, s.samples());
    assertNull(s.data().dataset(), "profiles take the dataset from the model's metadata");
    if (name.endsWith("-l2")) {
      assertEquals(new ThreatModel(Norm.L2, 0.5), s.threatModel());
    } else {
      assertEquals(Norm.LINF, s.threatModel().norm());
      assertEquals(8.0 / 255, s.threatModel().epsilon(), 1e-12);
    }
    List<AttackSpec> a = s.attacks();
    assertEquals(4, a.size());
    AttackSpec.Apgd ce = assertInstanceOf(AttackSpec.Apgd.class, a.get(0));
    assertEquals(LossHead.CE, ce.loss());
    assertEquals(100, ce.steps());
    assertEquals(1, ce.restarts());
    AttackSpec.ApgdT t = assertInstanceOf(AttackSpec.ApgdT.class, a.get(1));
    assertEquals(100, t.steps());
    assertEquals(9, t.targets());
    AttackSpec.FabT fab = assertInstanceOf(AttackSpec.FabT.class, a.get(2));
    assertEquals(100, fab.steps());
    assertEquals(9, fab.targets());
    AttackSpec.Square sq = assertInstanceOf(AttackSpec.Square.class, a.get(3));
    assertEquals(5000, sq.queries());
    assertEquals(0.8, sq.pInit());
    assertEquals(false, sq.rescaleSchedule());
    assertTrue(Builtins.suiteText(name).contains("arat's own Java implementation"));
  }

  @Test
  void ciProfileIsSmallAndFast() {
    EvaluationSuite s = Builtins.suite("ci");
    assertTrue(s.samples() <= 200);
    List<String> labels = s.attacks().stream().map(AttackSpec::label).toList();
    assertEquals(List.of("apgd-ce-20", "apgd-t-20-t3", "square-300"), labels);
    assertTrue(Builtins.suiteText("ci").contains("arat's own Java implementation"));
  }

  @Test
  void quickProfileIsFgsmThenPgd10() {
    EvaluationSuite s = Builtins.suite("quick");
    assertTrue(s.samples() <= 200);
    List<String> labels = s.attacks().stream().map(AttackSpec::label).toList();
    assertEquals(List.of("fgsm-ce", "pgd-10-ce"), labels);
    assertTrue(Builtins.suiteText("quick").contains("arat's own Java implementation"));
  }

  @Test
  void unknownSuiteListsEveryBuiltin() {
    SpecException e = assertThrows(SpecException.class, () -> Builtins.suite("nope"));
    for (String name : Builtins.SUITES) {
      assertTrue(e.getMessage().contains("[" + name + "]"), e.getMessage());
    }
  }
}
