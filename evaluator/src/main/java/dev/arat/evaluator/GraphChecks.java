package dev.arat.evaluator;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.scan.GraphScan;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Turns the {@code onnx} module's static graph scan ({@link GraphScan}; reference/ATTACKS.md
 * §10.9, "dynamic defence") into report diagnostics:
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
 *   <li>a final Softmax is reported by {@link OrtClassifier} as ARAT-D002 and skipped here.
 * </ul>
 *
 * One diagnostic per code, listing the scan's findings.
 */
final class GraphChecks {
  private static final Set<String> RANDOM = Set.of(GraphScan.RANDOM_OP, GraphScan.DROPOUT_TRAINING);
  private static final Set<String> MASKING = Set.of(GraphScan.INTEGER_CAST, GraphScan.QUANTIZATION,
      GraphScan.BATCHNORM_TRAINING);
  /** Findings that leave no input gradient to follow: white-box attacks are impossible (ARAT-D017). */
  private static final Set<String> BLOCKING = Set.of(GraphScan.CONTROL_FLOW, GraphScan.ROUNDING,
      GraphScan.UNSUPPORTED_OP);

  private GraphChecks() {}

  /** The diagnostics of {@code model}'s graph (empty for a plain feed-forward classifier). */
  static List<Diagnostic> scan(ModelProto model) {
    List<String> random = new ArrayList<>();
    List<String> masking = new ArrayList<>();
    for (GraphScan.Finding f : GraphScan.scan(model)) {
      if (RANDOM.contains(f.code())) {
        random.add(f.message());
      } else if (MASKING.contains(f.code())) {
        masking.add("[" + f.code() + "] " + f.message());
      }
    }
    List<Diagnostic> out = new ArrayList<>();
    if (!random.isEmpty()) {
      out.add(Diagnostic.Code.RANDOM_OPS.of(String.join("; ", random)
          + " (a randomised model needs expectation-over-transformation attacks; see ARAT-D001)"));
    }
    if (!masking.isEmpty()) {
      out.add(Diagnostic.Code.GRADIENT_MASKING_OPS.of(String.join("; ", masking)));
    }
    return out;
  }

  /**
   * Why white-box attacks are impossible on {@code model} according to the graph scan: control flow,
   * rounding on the input-to-logits path, ops the gradient builder cannot differentiate (each as
   * {@code [code] message}); empty when the scan finds none.
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
