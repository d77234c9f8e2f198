package dev.arat.evaluator.run;

import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.specs.AttackSpec;
import dev.arat.specs.EvaluationSuite;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Whether the suite's attacks can be trusted on a model: white-box attacks on a model they cannot
 * differentiate (ARAT-D017), straight-through gradients no gradient-free attack checks (ARAT-D021).
 */
final class TrustChecks {
  private TrustChecks() {}

  /**
   * {@code diagnostics} plus ARAT-D021 (fatal) when they hold straight-through gradients
   * (ARAT-D020) and the suite lacks a gradient-free Square attack or a transfer attack (from the
   * float parent) to check them.
   */
  static List<Diagnostic> straightThroughChecked(
      List<Diagnostic> diagnostics, EvaluationSuite suite) {
    if (diagnostics.stream()
        .noneMatch(d -> d.code().equals(Diagnostic.Code.STRAIGHT_THROUGH_GRADIENTS.code()))) {
      return diagnostics;
    }
    boolean square = suite.attacks().stream().anyMatch(a -> a instanceof AttackSpec.Square);
    boolean transfer = suite.attacks().stream().anyMatch(a -> a instanceof AttackSpec.Transfer);
    if (square && transfer) {
      return diagnostics;
    }
    List<Diagnostic> out = new ArrayList<>(diagnostics);
    out.add(
        Diagnostic.Code.STRAIGHT_THROUGH_UNCHECKED.of(
            "the model is attacked with straight-through gradients,"
                + " but the suite has "
                + (square ? "" : "no square attack")
                + (square || transfer ? "" : " and ")
                + (transfer ? "" : "no transfer attack (from the float parent model)")
                + ": add them to the suite's"
                + " attacks, or the white-box numbers of this quantized model cannot be trusted"));
    return out;
  }

  /**
   * What a model that white-box attacks cannot differentiate means for {@code suite} (ARAT-D017,
   * the same rule for every suite): null when white-box attacks are possible ({@code impossible} is
   * null); a warning that labels the verdict black-box only when the suite has only black-box
   * attacks and says {@code allow_black_box_only: true}; otherwise a fatal diagnostic: no attack
   * runs (only the clean pass), and the report is untrusted (exit code 3).
   */
  static Diagnostic whiteBoxVerdict(String impossible, EvaluationSuite suite, Path modelFile) {
    if (impossible == null) {
      return null;
    }
    if (suite.allowBlackBoxOnly()) {
      return Diagnostic.Code.WHITE_BOX_IMPOSSIBLE.with(
          Diagnostic.Severity.WARNING,
          "white-box attacks are"
              + " impossible on this model ("
              + impossible
              + "); the suite allows a black-box-only verdict"
              + " (allow_black_box_only: true): the result is BLACK-BOX ONLY, an upper bound that gradient attacks"
              + " could not check");
    }
    List<String> whiteBoxAttacks =
        suite.attacks().stream().filter(a -> !a.blackBox()).map(AttackSpec::label).toList();
    String todo =
        whiteBoxAttacks.isEmpty()
            ? "This suite's attacks are all black-box: add 'allow_black_box_only: true' to it to certify the model with"
                + " them, labelled black-box only"
            : "The suite's attacks "
                + whiteBoxAttacks
                + " need input gradients; remove what blocks them from the"
                + " model, or certify it with a suite of black-box attacks only (square, transfer) and"
                + " 'allow_black_box_only: true', labelled black-box only";
    return Diagnostic.Code.WHITE_BOX_IMPOSSIBLE.of(
        "white-box attacks cannot run on "
            + modelFile
            + ": "
            + impossible
            + "; no attack was run (the robust count is the clean count and bounds nothing). "
            + todo
            + " (docs/diagnostics.md#arat-d017)");
  }

  /** Whether {@code diagnostics} hold a fatal ARAT-D017: the attacks must not run. */
  static boolean attacksImpossible(List<Diagnostic> diagnostics) {
    return diagnostics.stream()
        .anyMatch(d -> d.fatal() && d.code().equals(Diagnostic.Code.WHITE_BOX_IMPOSSIBLE.code()));
  }
}
