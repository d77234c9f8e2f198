package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Every help text picocli renders is a format string: a bare {@code %} (as in "5%.") makes it print
 * a {@code [picocli WARN]} line above the usage instead of the text.
 */
class HelpTextTest {

  @Test
  void everyDescriptionIsAValidFormatString() {
    List<CommandSpec> specs = new ArrayList<>();
    collect(Arat.commandLine(), specs);
    assertTrue(specs.size() > 10, "found only " + specs.size() + " commands");
    for (CommandSpec spec : specs) {
      List<String> lines = new ArrayList<>(List.of(spec.usageMessage().description()));
      lines.addAll(List.of(spec.usageMessage().header()));
      lines.addAll(List.of(spec.usageMessage().footer()));
      for (ArgSpec arg : spec.args()) {
        lines.addAll(List.of(arg.description()));
      }
      for (String line : lines) {
        String text =
            line.replace("${DEFAULT-VALUE}", "x").replace("${COMPLETION-CANDIDATES}", "x");
        assertDoesNotThrow(
            () -> String.format(Locale.ROOT, text),
            spec.qualifiedName()
                + ": '"
                + line
                + "' is not a valid format string (write %% "
                + "for a percent sign)");
      }
    }
  }

  private static void collect(CommandLine cl, List<CommandSpec> into) {
    into.add(cl.getCommandSpec());
    for (CommandLine sub : cl.getSubcommands().values()) {
      collect(sub, into);
    }
  }
}
