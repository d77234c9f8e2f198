package dev.arat.onnx;

/**
 * Thrown when an ONNX model cannot be read, written or used, with a message that names the file (or
 * model) and says what is wrong with it.
 *
 * <p>Unchecked on purpose: callers at the CLI boundary catch it and turn it into a usage/input
 * error (exit code 2); the message is meant to be shown to the user as is, never a protobuf stack
 * trace.
 */
public class OnnxModelException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with a user-facing message. */
  public OnnxModelException(String message) {
    super(message);
  }

  /** Creates the exception with a user-facing message and the low-level cause (kept for logs). */
  public OnnxModelException(String message, Throwable cause) {
    super(message, cause);
  }
}
