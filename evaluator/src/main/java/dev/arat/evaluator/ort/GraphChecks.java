package dev.arat.evaluator.ort;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.onnx.scan.GraphScan;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Turns the {@code onnx} module's static graph scan ({@link GraphScan}; reference/ATTACKS.md §10.9,
 * "dynamic defence") into report diagnostics:
 *
 * <ul>
 *   <li>control flow ({@code Loop}, {@code If}, {@code Scan}, any subgraph), rounding ({@code
 *       Round}, {@code Floor}, {@code Ceil}, {@code Sign}) on the input-to-logits path and ops the
 *       gradient builder cannot differentiate: white-box attacks are impossible, ARAT-D017 ({@link
 *       #whiteBoxBlockers}; the suite runner decides what that means for the suite);
 *   <li>random ops upstream of the logits, Dropout in training mode: ARAT-D009, warning (ARAT-D001
 *       decides whether the randomness shows in the outputs);
 *   <li>integer casts or quantisation on the input-to-logits path, BatchNormalization in training
 *       mode: ARAT-D015, fatal (gradients are masked or samples are coupled; white-box numbers are
 *       not a measurement);
 *   <li>QuantizeLinear on the path that the gradient builder differentiates straight-through:
 *       ARAT-D020, warning ({@link dev.arat.evaluator.run.SuiteRunner} makes it ARAT-D021, fatal,
 *       when the suite has no Square and no transfer attack to check those gradients);
 *   <li>a Q/DQ zero point that TensorRT rejects: ARAT-D022, warning;
 *   <li>a final Softmax is reported by {@link OrtClassifier} as ARAT-D002 and skipped here.
 * </ul>
 *
 * One diagnostic per code, listing the scan's findings.
 */
final class GraphChecks {
  private static final Set<String> RANDOM = Set.of(GraphScan.RANDOM_OP, GraphScan.DROPOUT_TRAINING);
  private static final Set<String> MASKING =
      Set.of(GraphScan.INTEGER_CAST, GraphScan.QUANTIZATION, GraphScan.BATCHNORM_TRAINING);

  /**
   * Findings that leave no input gradient to follow: white-box attacks are impossible (ARAT-D017).
   */
  private static final Set<String> BLOCKING =
      Set.of(GraphScan.CONTROL_FLOW, GraphScan.ROUNDING, GraphScan.UNSUPPORTED_OP);

  private GraphChecks() {}

  /** The diagnostics of {@code model}'s graph (empty for a plain feed-forward classifier). */
  static List<Diagnostic> scan(ModelProto model) {
    List<String> random = new ArrayList<>();
    List<String> masking = new ArrayList<>();
    List<String> straight = new ArrayList<>();
    List<String> trt = new ArrayList<>();
    for (GraphScan.Finding f : GraphScan.scan(model)) {
      if (RANDOM.contains(f.code())) {
        random.add(f.message());
      } else if (f.code().equals(GraphScan.STRAIGHT_THROUGH)) {
        straight.add(f.node());
      } else if (f.code().equals(GraphScan.NOT_TENSORRT)) {
        trt.add(f.node());
      } else if (MASKING.contains(f.code())) {
        masking.add("[" + f.code() + "] " + f.message());
      }
    }
    List<Diagnostic> out = new ArrayList<>();
    if (!random.isEmpty()) {
      out.add(
          Diagnostic.Code.RANDOM_OPS.of(
              String.join("; ", random)
                  + " (a randomised model needs expectation-over-transformation attacks; see ARAT-D001)"));
    }
    if (!masking.isEmpty()) {
      out.add(Diagnostic.Code.GRADIENT_MASKING_OPS.of(String.join("; ", masking)));
    }
    if (!straight.isEmpty()) {
      out.add(
          Diagnostic.Code.STRAIGHT_THROUGH_GRADIENTS.of(
              straight.size()
                  + " QuantizeLinear node(s) on"
                  + " the path ("
                  + String.join(", ", straight)
                  + ") are differentiated straight-through"
                  + " (identity inside the clip range, zero outside): white-box attacks follow the float"
                  + " surrogate's gradient while every candidate is scored on the quantized model (ONNX"
                  + " Runtime, graph optimisation level "
                  + OrtSessions.GRAPH_OPTIMIZATION
                  + ", at which its QDQ fusion runs integer kernels where a QuantizeLinear follows the compute op, float kernels on dequantized"
                  + " values elsewhere); the numbers are trusted only next to a gradient-free (Square) and a"
                  + " transfer attack"));
    }
    if (!trt.isEmpty()) {
      out.add(
          Diagnostic.Code.NOT_TENSORRT_COMPATIBLE.of(
              trt.size()
                  + " QuantizeLinear/DequantizeLinear"
                  + " node(s) ("
                  + String.join(", ", trt)
                  + ") have a non-zero or uint8 zero point; TensorRT's"
                  + " explicit quantization accepts only symmetric int8 (zero point 0): this model is evaluated"
                  + " as ONNX Runtime runs it, but it is not a TensorRT INT8 model"));
    }
    return out;
  }

  /**
   * Why white-box attacks are impossible on {@code model} according to the graph scan: control
   * flow, rounding on the input-to-logits path, ops the gradient builder cannot differentiate (each
   * as {@code [code] message}); empty when the scan finds none.
   */
  static List<String> whiteBoxBlockers(ModelProto model) {
    List<String> out = new ArrayList<>();
    for (GraphScan.Finding f : GraphScan.scan(model)) {
      if (BLOCKING.contains(f.code())) {
        out.add("[" + f.code() + "] " + f.message());
      }
    }
    return out;
  }
}
