package dev.arat.onnx.scan;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.arat.onnx.GraphIndex;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Tensors;
import dev.arat.onnx.grad.GradientGraphBuilder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Scans an ONNX classifier's graph for what makes input gradients untrustworthy (gradient masking)
 * or white-box attacks impossible.
 *
 * <p>Terms: the <em>logits</em> are the first graph output (or the input of a final
 * Softmax/LogSoftmax, followed back through Identity/Dropout); a node is <em>upstream</em> when the
 * logits depend on one of its outputs; a node is <em>on the path</em> when it is upstream and one
 * of its inputs depends on a graph input. Findings, with their stable codes:
 *
 * <table>
 *   <caption>Finding codes</caption>
 *   <tr><th>code</th><th>severity</th><th>when</th></tr>
 *   <tr><td>{@value #RANDOM_OP}</td><td>ERROR</td><td>RandomNormal(Like), RandomUniform(Like),
 *       Bernoulli or Multinomial upstream of the logits (the output is random)</td></tr>
 *   <tr><td>{@value #DROPOUT_TRAINING}</td><td>ERROR</td><td>a Dropout upstream whose
 *       training_mode input is true or not a constant</td></tr>
 *   <tr><td>{@value #BATCHNORM_TRAINING}</td><td>ERROR</td><td>a BatchNormalization upstream with
 *       training_mode=1 (batch statistics couple the samples)</td></tr>
 *   <tr><td>{@value #CONTROL_FLOW}</td><td>ERROR</td><td>Loop, If, Scan or any node with a
 *       subgraph, anywhere in the graph (not differentiated)</td></tr>
 *   <tr><td>{@value #ROUNDING}</td><td>ERROR</td><td>Round, Floor, Ceil or Sign on the path (zero
 *       gradient almost everywhere)</td></tr>
 *   <tr><td>{@value #INTEGER_CAST}</td><td>ERROR</td><td>a Cast to a non-float type on the path
 *       </td></tr>
 *   <tr><td>{@value #QUANTIZATION}</td><td>ERROR</td><td>DynamicQuantizeLinear or a
 *       QLinear/Integer op on the path, or a QuantizeLinear there that the straight-through rule
 *       cannot handle (per-axis or non-constant scale, output not read by DequantizeLinear)</td></tr>
 *   <tr><td>{@value #STRAIGHT_THROUGH}</td><td>WARNING</td><td>a QuantizeLinear on the path that
 *       {@link dev.arat.onnx.grad.StraightThrough} differentiates straight-through (gradients are
 *       an estimate: check them with gradient-free and transfer attacks)</td></tr>
 *   <tr><td>{@value #NOT_TENSORRT}</td><td>WARNING</td><td>a QuantizeLinear/DequantizeLinear
 *       anywhere with a non-zero or unsigned (uint8) zero point: TensorRT's explicit quantization
 *       accepts only symmetric int8 (zero point 0)</td></tr>
 *   <tr><td>{@value #UNSUPPORTED_OP}</td><td>ERROR</td><td>another op on the path that
 *       {@link GradientGraphBuilder} cannot differentiate (not in
 *       {@link GradientGraphBuilder#supportedOps()}, or not in the default domain)</td></tr>
 *   <tr><td>{@value #FINAL_SOFTMAX}</td><td>INFO</td><td>the output is a Softmax/LogSoftmax; its
 *       input is used as logits</td></tr>
 * </table>
 *
 * <p>An ERROR means white-box results on this model cannot be trusted (or computed); the evaluator
 * turns findings into report diagnostics. The scan never throws on a structurally odd graph: it
 * reports what it can see.
 */
public final class GraphScan {
  /** Code of a random op upstream of the logits. */
  public static final String RANDOM_OP = "random-op";

  /** Code of a Dropout in training mode upstream of the logits. */
  public static final String DROPOUT_TRAINING = "dropout-training";

  /** Code of a BatchNormalization in training mode upstream of the logits. */
  public static final String BATCHNORM_TRAINING = "batchnorm-training";

  /** Code of a control-flow node (Loop, If, Scan, any subgraph). */
  public static final String CONTROL_FLOW = "control-flow";

  /** Code of a rounding op (Round, Floor, Ceil) on the input-to-logits path. */
  public static final String ROUNDING = "rounding";

  /** Code of a Cast to a non-float type on the input-to-logits path. */
  public static final String INTEGER_CAST = "integer-cast";

  /** Code of a quantisation op on the input-to-logits path. */
  public static final String QUANTIZATION = "quantization";

  /** Code of a QuantizeLinear on the path differentiated straight-through. */
  public static final String STRAIGHT_THROUGH = "straight-through";

  /** Code of a Q/DQ node whose zero point TensorRT rejects (non-zero, or uint8). */
  public static final String NOT_TENSORRT = "not-tensorrt-compatible";

  /** Code of any other op on the path that the gradient builder cannot differentiate. */
  public static final String UNSUPPORTED_OP = "unsupported-op";

  /** Code of a final Softmax/LogSoftmax (informational). */
  public static final String FINAL_SOFTMAX = "final-softmax";

  private static final Set<String> RANDOM =
      Set.of(
          "RandomNormal",
          "RandomNormalLike",
          "RandomUniform",
          "RandomUniformLike",
          "Bernoulli",
          "Multinomial");
  private static final Set<String> QUANT =
      Set.of(
          "QuantizeLinear",
          "DequantizeLinear",
          "DynamicQuantizeLinear",
          "QLinearConv",
          "QLinearMatMul",
          "ConvInteger",
          "MatMulInteger");

  private GraphScan() {}

  /** How much a finding matters. */
  public enum Severity {
    /** White-box results on this model cannot be trusted (or computed). */
    ERROR,
    /** Worth a look; results may be weaker than they seem. */
    WARNING,
    /** Informational; handled automatically. */
    INFO
  }

  /**
   * One finding.
   *
   * @param code the stable code (one of the constants of {@link GraphScan})
   * @param severity how much it matters
   * @param node the node's name, or {@code #index (unnamed)}
   * @param opType the node's op type (with its domain prefix if not the default domain)
   * @param message a user-facing explanation
   */
  public record Finding(
      String code, Severity severity, String node, String opType, String message) {
    @Override
    public String toString() {
      return "[" + severity + "] " + code + ": " + message;
    }
  }

  /** Whether any finding has severity {@link Severity#ERROR}. */
  public static boolean hasErrors(List<Finding> findings) {
    return findings.stream().anyMatch(f -> f.severity() == Severity.ERROR);
  }

  /**
   * Scans a model.
   *
   * @param model the classifier (first graph output = logits or Softmax of them)
   * @return the findings in graph order (control flow first), empty when nothing was found
   */
  public static List<Finding> scan(ModelProto model) {
    GraphProto g = model.getGraph();
    List<Finding> out = new ArrayList<>();
    List<NodeProto> nodes = g.getNodeList();
    GraphIndex index = GraphIndex.of(nodes);
    for (int i = 0; i < nodes.size(); i++) {
      NodeProto n = nodes.get(i);
      if (GraphIndex.hasSubgraph(n) || GraphIndex.CONTROL_FLOW_OPS.contains(n.getOpType())) {
        out.add(
            finding(
                CONTROL_FLOW,
                Severity.ERROR,
                n,
                i,
                "control flow ("
                    + n.getOpType()
                    + ") is not differentiated by the input-gradient builder; gradients through it cannot"
                    + " be computed"));
      }
    }
    if (g.getOutputCount() == 0) {
      return out;
    }
    // ---- the logits: skip a final Softmax/LogSoftmax (through Identity/Dropout)
    GraphIndex.OutputHead head = index.outputHead(g.getOutput(0).getName());
    NodeProto p = head.softmax();
    if (p != null) {
      out.add(
          finding(
              FINAL_SOFTMAX,
              Severity.INFO,
              p,
              head.softmaxIndex(),
              "the output is a "
                  + p.getOpType()
                  + "; its input '"
                  + p.getInput(0)
                  + "' is used as logits (attacks and"
                  + " margins use logits, not probabilities)"));
    }
    String logits = head.logits();
    // ---- upstream nodes
    boolean[] upstream = index.ancestors(logits);
    // ---- tensors that depend on a data input (fixed point over the node list, any order)
    Set<String> dep =
        index.inputDependent(
            OnnxModels.dataInputs(g).stream().map(ValueInfoProto::getName).toList());
    Set<String> inits = new HashSet<>();
    for (TensorProto t : g.getInitializerList()) {
      inits.add(t.getName());
    }
    for (int i = 0; i < nodes.size(); i++) {
      if (!upstream[i]) {
        continue;
      }
      NodeProto n = nodes.get(i);
      String op = n.getOpType();
      boolean onPath = n.getInputList().stream().anyMatch(dep::contains);
      boolean dflt = n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx");
      if (RANDOM.contains(op)) {
        out.add(
            finding(
                RANDOM_OP,
                Severity.ERROR,
                n,
                i,
                "random op "
                    + op
                    + " feeds the"
                    + " logits: the model's output is random, so gradients and robustness results are"
                    + " not reproducible or trustworthy"));
      } else if (op.equals("Dropout") && dropoutTraining(n, g, index)) {
        out.add(
            finding(
                DROPOUT_TRAINING,
                Severity.ERROR,
                n,
                i,
                "Dropout runs in training mode"
                    + " (its training_mode input is true or not a constant): the output is random"));
      } else if (op.equals("BatchNormalization")
          && GraphIndex.intAttr(n, "training_mode", 0) != 0) {
        out.add(
            finding(
                BATCHNORM_TRAINING,
                Severity.ERROR,
                n,
                i,
                "BatchNormalization in"
                    + " training mode uses batch statistics: each sample's output depends on the others"));
      } else if (!onPath) {
        continue;
      } else if (GraphIndex.ROUNDING_OPS.contains(op)) {
        out.add(
            finding(
                ROUNDING,
                Severity.ERROR,
                n,
                i,
                op
                    + " lies on the path from the input"
                    + " to the logits: its derivative is zero almost everywhere (gradient masking);"
                    + " white-box attacks see no gradient through it"));
      } else if (op.equals("Cast")
          && !GraphIndex.FLOAT_TYPES.contains(GraphIndex.intAttr(n, "to", 1))) {
        out.add(
            finding(
                INTEGER_CAST,
                Severity.ERROR,
                n,
                i,
                "Cast to data type "
                    + GraphIndex.intAttr(n, "to", 1)
                    + " (not float) lies on the path from the input to the"
                    + " logits: no gradient flows through it (gradient masking)"));
      } else if (op.equals("DequantizeLinear") && fromQuantize(n.getInput(0), index)) {
        continue; // after a QuantizeLinear: reported (and differentiated) with it
      } else if (op.equals("QuantizeLinear") && straightThrough(n, nodes, inits, g)) {
        out.add(
            finding(
                STRAIGHT_THROUGH,
                Severity.WARNING,
                n,
                i,
                "QuantizeLinear on the path from"
                    + " the input to the logits is differentiated straight-through (identity inside its"
                    + " clip range, zero outside): input gradients are those of the float surrogate, an"
                    + " estimate; trust white-box numbers only next to a gradient-free (Square) and a"
                    + " transfer attack"));
      } else if (QUANT.contains(op)) {
        out.add(
            finding(
                QUANTIZATION,
                Severity.ERROR,
                n,
                i,
                "quantisation op "
                    + op
                    + " lies on"
                    + " the path from the input to the logits: gradients through it are zero or"
                    + " undefined (gradient masking)"));
      } else if (!dflt
          || (!GradientGraphBuilder.supportedOps().contains(op)
              && !GraphIndex.SHAPE_OPS.contains(op)
              && !GraphIndex.CONTROL_FLOW_OPS.contains(op))) {
        out.add(
            finding(
                UNSUPPORTED_OP,
                Severity.ERROR,
                n,
                i,
                "operator '"
                    + opName(n)
                    + "' lies on the path from the input to the logits and the input-gradient builder"
                    + " cannot differentiate it; white-box attacks are not possible (supported: "
                    + String.join(", ", GradientGraphBuilder.supportedOps())
                    + ")"));
      }
    }
    for (int i = 0; i < nodes.size(); i++) {
      NodeProto n = nodes.get(i);
      if ((n.getOpType().equals("QuantizeLinear") || n.getOpType().equals("DequantizeLinear"))
          && n.getDomain().isEmpty()
          && !symmetricInt8(n, g)) {
        out.add(
            finding(
                NOT_TENSORRT,
                Severity.WARNING,
                n,
                i,
                "zero point is not an int8 zero:"
                    + " TensorRT's explicit quantization accepts only symmetric int8 quantization (zero"
                    + " point 0), so this model cannot be built into a TensorRT INT8 engine as it is"
                    + " (ONNX Runtime evaluates it)"));
      }
    }
    return out;
  }

  /** Whether the tensor comes from a QuantizeLinear (so a DequantizeLinear reading it pairs). */
  private static boolean fromQuantize(String t, GraphIndex index) {
    int p = index.producerIndex(t);
    return p >= 0 && index.nodes().get(p).getOpType().equals("QuantizeLinear");
  }

  /** Whether the straight-through rule of {@code dev.arat.onnx.grad.StraightThrough} applies. */
  private static boolean straightThrough(
      NodeProto q, List<NodeProto> nodes, Set<String> inits, GraphProto g) {
    if (q.getInputCount() < 2 || !inits.contains(q.getInput(1))) {
      return false;
    }
    for (TensorProto t : g.getInitializerList()) {
      if (t.getName().equals(q.getInput(1)) && Tensors.numel(Tensors.dims(t)) != 1) {
        return false;
      }
    }
    boolean read = false;
    for (NodeProto n : nodes) {
      if (n.getInputList().contains(q.getOutput(0))) {
        if (!n.getOpType().equals("DequantizeLinear")) {
          return false;
        }
        read = true;
      }
    }
    return read;
  }

  private static boolean symmetricInt8(NodeProto n, GraphProto g) {
    if (n.getInputCount() < 3 || n.getInput(2).isEmpty()) {
      return false; // no zero point: uint8 by default
    }
    for (TensorProto t : g.getInitializerList()) {
      if (t.getName().equals(n.getInput(2))) {
        try {
          return t.getDataType() == Tensors.INT8
              && java.util.Arrays.stream(Tensors.toLongArray(t)).allMatch(v -> v == 0);
        } catch (RuntimeException e) {
          return false;
        }
      }
    }
    return true; // a Constant node or computed: not judged here
  }

  private static boolean dropoutTraining(NodeProto n, GraphProto g, GraphIndex index) {
    if (n.getInputCount() < 3 || n.getInput(2).isEmpty()) {
      return false;
    }
    String t = n.getInput(2);
    for (TensorProto init : g.getInitializerList()) {
      if (init.getName().equals(t)) {
        return constantTrue(init);
      }
    }
    int p = index.producerIndex(t);
    if (p >= 0 && index.nodes().get(p).getOpType().equals("Constant")) {
      AttributeProto a = GraphIndex.attr(index.nodes().get(p), "value");
      if (a != null) {
        return constantTrue(a.getT());
      }
    }
    return true; // not a constant: may be true at run time
  }

  private static boolean constantTrue(TensorProto t) {
    if (!t.getRawData().isEmpty()) {
      return t.getRawData().byteAt(0) != 0;
    }
    if (t.getInt32DataCount() > 0) {
      return t.getInt32Data(0) != 0;
    }
    try {
      return Tensors.toLongArray(t)[0] != 0;
    } catch (RuntimeException e) {
      return true;
    }
  }

  private static String opName(NodeProto n) {
    return (n.getDomain().isEmpty() ? "" : n.getDomain() + ".") + n.getOpType();
  }

  private static Finding finding(String code, Severity s, NodeProto n, int index, String msg) {
    String name = n.getName().isEmpty() ? "#" + index + " (unnamed)" : n.getName();
    return new Finding(code, s, name, opName(n), "node '" + name + "' (" + opName(n) + "): " + msg);
  }
}
