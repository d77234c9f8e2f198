package dev.arat.data;

import dev.arat.specs.SpecException;

/** A dataset that is missing, truncated or malformed; the message says how to fix it. */
public class DatasetException extends SpecException {
  private static final long serialVersionUID = 1L;

  /** Creates the exception with a user-facing message. */
  public DatasetException(String message) {
    super(message);
  }

  /** Creates the exception with a user-facing message and a cause. */
  public DatasetException(String message, Throwable cause) {
    super(message, cause);
  }
}
