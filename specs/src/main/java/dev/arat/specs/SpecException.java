package dev.arat.specs;

/**
 * A recipe, suite, architecture or checkpoint that cannot be used as given.
 *
 * <p>The message names the file and the field path ({@code attacks[1].steps: must be > 0, was -3})
 * so a user can fix the input without reading a stack trace. The CLI maps it to exit code 2.
 */
public class SpecException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception with a user-facing message. */
  public SpecException(String message) {
    super(message);
  }

  /** Creates an exception with a user-facing message and its cause. */
  public SpecException(String message, Throwable cause) {
    super(message, cause);
  }
}
