package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Size caps before parsing, duplicate keys, meaningful epsilons, and messages in the user's words.
 */
class SpecsStrictnessTest {
  static final String SUITE =
      String.join(
          "\n",
          "name: x",
          "samples: 10",
          "threat_model: {norm: Linf, epsilon: 0.1}",
          "attacks:",
          "  - type: fgsm",
          "");

  private static String error(String yaml) {
    return assertThrows(
            SpecException.class, () -> Specs.parse(yaml, EvaluationSuite.class, "suite.yaml"))
        .getMessage();
  }

  @Test
  void aHugeScalarIsRefusedBeforeParsing(@TempDir Path dir) throws Exception {
    // 50 MB in one scalar used to hang the YAML scanner (quadratic); refused by size, unread
    Path big = dir.resolve("big.yaml");
    try (var out = Files.newOutputStream(big)) {
      out.write("name: ".getBytes());
      byte[] chunk = "x".repeat(1 << 20).getBytes();
      for (int i = 0; i < 50; i++) {
        out.write(chunk);
      }
    }
    String msg = assertThrows(SpecException.class, () -> Specs.readSuite(big)).getMessage();
    assertTrue(
        msg.contains("too large") && msg.contains(String.valueOf(Specs.MAX_DOCUMENT_CHARS)), msg);
    // a text just over the cap is refused too, also when given as a string
    String over = "name: " + "x".repeat(Specs.MAX_DOCUMENT_CHARS) + "\n";
    assertTrue(error(over).contains("too large"), error(over));
  }

  @Test
  void deepNestingIsRefused() {
    String deep =
        "name: "
            + "[".repeat(Specs.MAX_NESTING_DEPTH + 10)
            + "]".repeat(Specs.MAX_NESTING_DEPTH + 10);
    String msg = error(SUITE.replace("name: x", deep));
    assertTrue(msg.startsWith("suite.yaml: "), msg);
  }

  @Test
  void duplicateKeysAreErrors() {
    String top = error(SUITE + "samples: 20\n");
    assertTrue(top.contains("key 'samples' is given twice"), top);
    String nested =
        error(SUITE.replace("{norm: Linf, epsilon: 0.1}", "{norm: Linf, epsilon: 0.1, norm: L2}"));
    assertTrue(
        nested.contains("threat_model") && nested.contains("key 'norm' is given twice"), nested);
    String json =
        assertThrows(
                SpecException.class,
                () ->
                    Specs.parse("{\"epoch\": 1, \"epoch\": 2}", TrainingState.class, "state.json"))
            .getMessage();
    assertTrue(json.contains("key 'epoch' is given twice"), json);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "samples: 10|samples: [1, 2]|samples: expected a whole number, found a list",
        "samples: 10|samples: {a: 1}|samples: expected a whole number, found a mapping",
        "samples: 10|samples: \"3\"|samples: expected a whole number, found the text \"3\"",
        "samples: 10|samples: 3.5|samples: expected a whole number, found the number 3.5",
        "samples: 10|samples: 99999999999|samples: 99999999999 is out of range",
        "name: x|name: [a]|name: expected a name or text, found a list",
        "epsilon: 0.1|epsilon: \"0.1\"|threat_model.epsilon: expected a number, found the text",
        "norm: Linf|norm: [Linf]|threat_model.norm: expected a name or text, found a list",
        "threat_model: {norm: Linf, epsilon: 0.1}|threat_model: 3|threat_model: expected a mapping",
        "- type: fgsm|- [pgd]|attacks",
        "- type: fgsm|- 7|attacks[0]: expected a mapping with a 'type' key",
        "- type: fgsm|- {type: pgd, random_start: 1}|attacks[0].random_start: expected true or false",
        "samples: 10|samples: true|samples: expected a whole number, found a true/false value",
      })
  void wrongKindsAreNamedInTheUsersWords(String from, String to, String expected) {
    String msg = error(SUITE.replace(from, to));
    assertTrue(msg.contains(expected), msg);
    for (String internal :
        new String[] {"CoercionConfig", "START_ARRAY", "JsonToken", "`", "java.", "dev.arat"}) {
      assertTrue(!msg.contains(internal), msg);
    }
  }

  @Test
  void linfEpsilonAboveOneIsRefused() {
    String msg = error(SUITE.replace("epsilon: 0.1", "epsilon: 1e308"));
    assertTrue(msg.contains("threat_model") && msg.contains("at most 1 for Linf"), msg);
    String sweep = error(SUITE + "epsilon_sweep: [0.2, 3]\n");
    assertTrue(sweep.contains("epsilon_sweep[1]: must be at most 1"), sweep);
    // L2 radii depend on the image size and are checked when the data is known
    Specs.parse(
        SUITE.replace("norm: Linf, epsilon: 0.1", "norm: L2, epsilon: 5"),
        EvaluationSuite.class,
        "s");
    assertTrue(ThreatModel.maxEpsilon(Norm.L2, 1, 28, 28) == 28.0);
    assertTrue(ThreatModel.maxEpsilon(Norm.LINF, 3, 32, 32) == 1.0);
  }
}
