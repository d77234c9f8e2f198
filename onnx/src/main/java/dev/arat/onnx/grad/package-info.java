/**
 * The input-gradient graph: the forward ONNX graph of a classifier plus the reverse-mode derivative
 * of a loss head ({@link dev.arat.specs.LossHead}) with respect to the input, emitted as ONNX nodes
 * so that one ONNX Runtime call returns logits, per-sample loss and input gradient.
 *
 * <p>Entry point: {@link dev.arat.onnx.grad.GradientGraphBuilder#build}. Ops outside the supported
 * set raise {@link dev.arat.onnx.grad.UnsupportedOpException}.
 *
 * <p>Inside: {@code ForwardGraph} prepares the forward graph (checks, renaming, topological sort,
 * shape inference with {@code Shapes}/{@code ShapeOpInference}/{@code Window}, logits, pruning,
 * input dependence); {@code GradientRun} emits it, the loss head ({@code LossHeads}) and the
 * reverse sweep, applying the rule of each op from {@code GradientRules}, the table keyed by op
 * type whose keys are the supported ops, filled by {@code ElementwiseRules}, {@code ConvPoolRules},
 * {@code ShapeRules} and {@code NormRules}.
 */
package dev.arat.onnx.grad;
