package dev.arat.cli;

/** An error with an exit code and a message for the user, thrown from any command. */
public class AratException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int exitCode;

  /** Creates the exception. */
  public AratException(int exitCode, String message) {
    super(message);
    this.exitCode = exitCode;
  }

  /** The process exit code this error maps to. */
  public int exitCode() {
    return exitCode;
  }
}
