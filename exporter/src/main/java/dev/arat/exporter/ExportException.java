package dev.arat.exporter;

/** A checkpoint that cannot be exported as given (missing weights, wrong shapes, NaNs). */
public class ExportException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with a user-facing message. */
  public ExportException(String message) {
    super(message);
  }
}
