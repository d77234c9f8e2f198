package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BuiltinsTest {
  @Test
  void everyBuiltinParses() {
    for (String r : Builtins.RECIPES) {
      Builtins.recipe(r);
    }
    for (String s : Builtins.SUITES) {
      Builtins.suite(s);
    }
  }

  @Test
  void demoSuiteMeetsTheIssueFloor() {
    EvaluationSuite s = Builtins.suite("demo");
    assertTrue(s.samples() >= 1000);
    assertEquals(0.1, s.threatModel().epsilon());
    assertTrue(
        s.attacks().stream().anyMatch(a -> a instanceof AttackSpec.Pgd p && p.steps() >= 20));
  }

  @Test
  void unknownNameIsAnErrorListingBuiltins() {
    SpecException e = assertThrows(SpecException.class, () -> Builtins.suite("nope"));
    assertTrue(e.getMessage().contains("[demo]"), e.getMessage());
  }

  @Test
  void aFolderNamedLikeABuiltinDoesNotShadowIt() throws Exception {
    // The repository root has a ci/ folder and there is a built-in suite 'ci': a relative name
    // resolves against the working directory, so make such a folder there for the test.
    java.nio.file.Path folder = java.nio.file.Path.of("ci");
    boolean made = !java.nio.file.Files.exists(folder);
    if (made) {
      java.nio.file.Files.createDirectory(folder);
    }
    try {
      assertTrue(java.nio.file.Files.isDirectory(folder));
      assertEquals("ci", Builtins.suite("ci").name());
    } finally {
      if (made) {
        java.nio.file.Files.delete(folder);
      }
    }
  }
}
