package dev.arat.onnx.grad;

import dev.arat.onnx.OnnxModelException;

/**
 * Thrown when the forward graph uses, on the path from the input to the logits, an operator (or an
 * operator configuration) that the input-gradient builder cannot differentiate.
 *
 * <p>The message names the op type, the node and lists the supported ops; {@link #opType()} and
 * {@link #nodeName()} give the same information to programs.
 */
public class UnsupportedOpException extends OnnxModelException {
  private static final long serialVersionUID = 1L;

  /** The op type that is not supported. */
  private final String opType;

  /** The offending node's name. */
  private final String nodeName;

  /**
   * Creates the exception.
   *
   * @param opType the ONNX op type, e.g. {@code "LSTM"}
   * @param nodeName the node's name (or a description such as {@code "#12 (unnamed)"})
   * @param message the full user-facing message
   */
  public UnsupportedOpException(String opType, String nodeName, String message) {
    super(message);
    this.opType = opType;
    this.nodeName = nodeName;
  }

  /** The op type that is not supported. */
  public String opType() {
    return opType;
  }

  /** The name of the offending node. */
  public String nodeName() {
    return nodeName;
  }
}
