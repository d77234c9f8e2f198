package dev.arat.evaluator.checks;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * A finding of a sanity check about the model or the run (reference/ATTACKS.md §10.9), with a
 * stable code documented in {@code docs/diagnostics.md} ("Raised if / Why it matters / What to
 * do"). A {@link Severity#FATAL} diagnostic makes the report untrusted (exit code 3).
 *
 * @param code stable code, e.g. {@code ARAT-D001}
 * @param severity {@code info}, {@code warning} or {@code fatal}
 * @param name short stable name, e.g. {@code randomness}
 * @param message what was observed, with numbers
 * @param doc where the code is documented ({@code docs/diagnostics.md#arat-d001})
 */
public record Diagnostic(String code, Severity severity, String name, String message, String doc) {
  /** How much a diagnostic matters. */
  public enum Severity {
    /** A note; nothing to do. */
    INFO,
    /** The measurement may be optimistic; read the doc. */
    WARNING,
    /** The measurement cannot be trusted: the report is untrusted (exit code 3). */
    FATAL;

    /** The lower-case name used in JSON. */
    @JsonValue
    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code info}, {@code warning} or {@code fatal} (any case). */
    @JsonCreator
    public static Severity of(String s) {
      return valueOf(s.toUpperCase(Locale.ROOT));
    }
  }

  /** The catalogue of diagnostics: code, name and severity. */
  public enum Code {
    /** Repeated clean forward passes disagree. */
    RANDOMNESS("ARAT-D001", "randomness", Severity.FATAL),
    /** The graph ends in Softmax/LogSoftmax; logits were read before it. */
    SOFTMAX_OUTPUT("ARAT-D002", "softmax-output", Severity.INFO),
    /** Some samples have an exactly zero input gradient at the first gradient attack's start. */
    ZERO_GRADIENT("ARAT-D003", "zero-gradient", Severity.WARNING),
    /** The black-box Square attack broke samples the gradient attacks could not. */
    SQUARE_BEATS_WHITE_BOX("ARAT-D004", "square-beats-white-box", Severity.WARNING),
    /** A loss head or target count needs more classes than the model has. */
    CLASS_COUNT("ARAT-D005", "class-count", Severity.FATAL),
    /** A candidate broke the threat model (an attack bug). */
    BUDGET_VIOLATION("ARAT-D006", "budget-violation", Severity.FATAL),
    /** PGD over the whole image range did not drive accuracy to chance: obfuscated gradients. */
    FULL_RANGE_PGD("ARAT-D007", "full-range-pgd", Severity.FATAL),
    /** No longer raised (control flow is {@link #WHITE_BOX_IMPOSSIBLE}); kept for old reports. */
    CONTROL_FLOW("ARAT-D008", "control-flow-ops", Severity.WARNING),
    /**
     * The graph holds random operators (RandomNormal*, RandomUniform*, Bernoulli, training
     * Dropout).
     */
    RANDOM_OPS("ARAT-D009", "random-ops", Severity.WARNING),
    /** Successes on the gradient graph that the deployed session did not confirm. */
    UNCONFIRMED_SUCCESSES("ARAT-D010", "unconfirmed-successes", Severity.WARNING),
    /** No sample is classified correctly. */
    NO_CLEAN_CORRECT("ARAT-D011", "no-clean-correct", Severity.WARNING),
    /** A note from the input-gradient graph builder. */
    GRADIENT_GRAPH("ARAT-D012", "gradient-graph", Severity.INFO),
    /** The baseline report was measured on other samples or another suite. */
    BASELINE_MISMATCH("ARAT-D013", "baseline-mismatch", Severity.WARNING),
    /** Merged shards ran with different software or providers, or their probes disagree. */
    SHARD_MISMATCH("ARAT-D014", "shard-mismatch", Severity.WARNING),
    /** The graph scan found integer casts, quantisation or training-mode BN on the path. */
    GRADIENT_MASKING_OPS("ARAT-D015", "gradient-masking-ops", Severity.FATAL),
    /** The model returned NaN or infinite logits (on clean or perturbed inputs). */
    NON_FINITE_LOGITS("ARAT-D016", "non-finite-logits", Severity.FATAL),
    /**
     * No input gradient can be computed (control flow, rounding, an op without a gradient rule).
     */
    WHITE_BOX_IMPOSSIBLE("ARAT-D017", "white-box-impossible", Severity.FATAL),
    /**
     * arat adapted the model's input (channels-last transpose, normalisation, fixed batch size).
     */
    MODEL_INPUT("ARAT-D018", "model-input", Severity.INFO),
    /**
     * Quantization (Q/DQ) on the path is differentiated straight-through: gradients are an
     * estimate.
     */
    STRAIGHT_THROUGH_GRADIENTS("ARAT-D020", "straight-through-gradients", Severity.WARNING),
    /**
     * Straight-through gradients, but the suite lacks a gradient-free (Square) or a transfer attack
     * to check them.
     */
    STRAIGHT_THROUGH_UNCHECKED("ARAT-D021", "straight-through-unchecked", Severity.FATAL),
    /**
     * A Q/DQ zero point TensorRT rejects (non-zero or uint8): evaluated, but not a TensorRT INT8
     * model.
     */
    NOT_TENSORRT_COMPATIBLE("ARAT-D022", "not-tensorrt-compatible", Severity.WARNING);

    private final String code;
    private final String id;
    private final Severity severity;

    Code(String code, String id, Severity severity) {
      this.code = code;
      this.id = id;
      this.severity = severity;
    }

    /** The stable code, e.g. {@code ARAT-D001}. */
    public String code() {
      return code;
    }

    /** The short name, e.g. {@code randomness}. */
    public String id() {
      return id;
    }

    /** The default severity. */
    public Severity severity() {
      return severity;
    }

    /** A diagnostic of this code with its default severity. */
    public Diagnostic of(String message) {
      return with(severity, message);
    }

    /** A diagnostic of this code with another severity. */
    public Diagnostic with(Severity s, String message) {
      return new Diagnostic(
          code, s, id, message, "docs/diagnostics.md#" + code.toLowerCase(Locale.ROOT));
    }
  }

  /**
   * {@code ARAT-D002 [info] softmax-output: message}: the line kept in the report's {@code
   * diagnostics}.
   */
  public String line() {
    return code + " [" + severity.id() + "] " + name + ": " + message;
  }

  /** Whether this diagnostic makes the measurement untrusted. */
  public boolean fatal() {
    return severity == Severity.FATAL;
  }
}
