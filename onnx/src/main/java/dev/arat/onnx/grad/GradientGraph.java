package dev.arat.onnx.grad;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.specs.LossHead;
import java.util.List;

/**
 * The result of {@link GradientGraphBuilder#build}: an input-gradient model plus what the builder
 * found out about the forward model.
 *
 * <p>The model's inputs are {@code input} (float32, {@code (N,C,H,W)}, pixels in {@code [0,1]}),
 * {@code labels} (int64, {@code (N)}, true classes in {@code [0,K)}) and, for targeted heads,
 * {@code targets} (int64, {@code (N)}, in {@code [0,K)}). Its outputs are {@code logits} (float32,
 * {@code (N,K)}), {@code loss} (float32, {@code (N)}, the head's per-sample value, to be maximised)
 * and {@code input_grad} (float32, same shape as {@code input}, the gradient of the sum over the
 * batch of {@code loss} with respect to {@code input}).
 *
 * @param model the gradient model (IR 8, default-domain opset {@link GradientGraphBuilder#OPSET} or
 *     the forward model's opset if higher)
 * @param head the loss head built into the model
 * @param logitsTensor the name, in the forward model, of the tensor used as logits (the graph
 *     output, or the input of a final Softmax/LogSoftmax)
 * @param inputShape the input's shape with {@code -1} for the batch axis (and any other symbolic
 *     axis)
 * @param numClasses the number of classes K, or -1 if the forward model does not fix it
 * @param notes diagnostics for the report, e.g. that a final Softmax was skipped; never null
 */
public record GradientGraph(
    ModelProto model,
    LossHead head,
    String logitsTensor,
    long[] inputShape,
    int numClasses,
    List<GradientGraph.Note> notes) {

  /** What a {@link Note} is about; callers test the code, never the message text. */
  public enum NoteCode {
    /** Activation QuantizeLinear/DequantizeLinear pairs are differentiated straight-through. */
    STRAIGHT_THROUGH,
    /** Float16 parts are differentiated straight-through (Casts as the identity). */
    FLOAT16_STRAIGHT_THROUGH,
    /** The forward model declares a fixed batch size. */
    FIXED_BATCH,
    /** The forward model has several outputs; the first is taken as the logits. */
    MULTIPLE_OUTPUTS,
    /** A Round/Floor/Ceil/Sign on the path stops the gradient. */
    GRADIENT_STOPPER,
    /** A QuantizeLinear on the path stops the gradient (straight-through switched off). */
    QUANTIZE_STOPS_GRADIENT,
    /** A Cast to a non-float type on the path stops the gradient. */
    NON_FLOAT_CAST,
    /** The forward opset is newer than {@link GradientGraphBuilder#OPSET} and is kept. */
    OPSET_KEPT,
    /** The graph ends in Softmax; its input is used as the logits. */
    FINAL_SOFTMAX,
    /** The graph ends in LogSoftmax; its input is used as the logits. */
    FINAL_LOG_SOFTMAX
  }

  /**
   * One diagnostic of the builder.
   *
   * @param code what it is about (stable, for callers)
   * @param message a user-facing explanation
   */
  public record Note(NoteCode code, String message) {
    /** The message. */
    @Override
    public String toString() {
      return message;
    }
  }

  /** Whether a note with this code was made. */
  public boolean hasNote(NoteCode code) {
    return notes.stream().anyMatch(n -> n.code() == code);
  }

  /** Makes the record, copying the shape and the notes. */
  public GradientGraph {
    inputShape = inputShape.clone();
    notes = List.copyOf(notes);
  }

  /** The input's shape with {@code -1} for symbolic axes (a copy). */
  @Override
  public long[] inputShape() {
    return inputShape.clone();
  }

  /** The serialized model, ready for {@code OrtEnvironment.createSession(byte[], ...)}. */
  public byte[] toByteArray() {
    return model.toByteArray();
  }
}
