package dev.arat.deploy;

/**
 * A model or calibration set that cannot be quantized or converted, with a one-line message in the
 * user's words (the CLI exits 2): an op that cannot take Q/DQ, calibration images of the wrong
 * shape, an already quantized model...
 */
public class QuantizationException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what is wrong and what to do, naming the op/node or shape
   */
  public QuantizationException(String message) {
    super(message);
  }
}
