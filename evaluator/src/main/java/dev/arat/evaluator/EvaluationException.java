package dev.arat.evaluator;

/**
 * An evaluation that cannot proceed. Carries what was being done, with which file, and ONNX
 * Runtime's error code where there is one; {@link #kind()} tells the CLI which exit code fits.
 */
public class EvaluationException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What went wrong, in terms of who must act. */
  public enum Kind {
    /** The input cannot be used (model unreadable by ONNX Runtime, wrong geometry): exit code 2. */
    INPUT,
    /** The measurement cannot be trusted: exit code 3. */
    UNTRUSTED,
    /** A failure inside arat or ONNX Runtime while running: exit code 4. */
    INTERNAL
  }

  private final Kind kind;
  private final String ortErrorCode;

  /** Creates an exception of {@code kind} with a user-facing message. */
  public EvaluationException(Kind kind, String message) {
    this(kind, message, null, null);
  }

  /**
   * Creates an exception of {@code kind} with a user-facing message, ONNX Runtime's error code (or
   * null) and the cause.
   */
  public EvaluationException(Kind kind, String message, String ortErrorCode, Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.ortErrorCode = ortErrorCode;
  }

  /** Which kind of failure this is. */
  public Kind kind() {
    return kind;
  }

  /** ONNX Runtime's error code name (e.g. {@code ORT_INVALID_GRAPH}), or null. */
  public String ortErrorCode() {
    return ortErrorCode;
  }
}
