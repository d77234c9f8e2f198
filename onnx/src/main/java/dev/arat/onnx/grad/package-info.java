/**
 * The input-gradient graph: the forward ONNX graph of a classifier plus the reverse-mode derivative
 * of a loss head ({@link dev.arat.specs.LossHead}) with respect to the input, emitted as ONNX nodes
 * so that one ONNX Runtime call returns logits, per-sample loss and input gradient.
 *
 * <p>Entry point: {@link dev.arat.onnx.grad.GradientGraphBuilder#build}. Ops outside the supported
 * set raise {@link dev.arat.onnx.grad.UnsupportedOpException}.
 */
package dev.arat.onnx.grad;
