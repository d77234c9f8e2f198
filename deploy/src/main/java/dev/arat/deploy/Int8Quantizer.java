package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.arat.onnx.GraphIndex;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Tensors;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Quantizes a float32 ONNX classifier to INT8 in TensorRT's explicit-quantization (QDQ) form
 * (docs/quantization.md gives the rules and why):
 *
 * <ul>
 *   <li>symmetric int8, zero point 0 everywhere (TensorRT rejects any other zero point);
 *   <li>Conv, Gemm and MatMul: the activation input gets a per-tensor QuantizeLinear &rarr;
 *       DequantizeLinear pair with scale {@code amax / 127} from calibration; a constant weight is
 *       stored as int8 ({@code round(w / s_c)} clamped to [-127, 127]) with per-channel scales
 *       {@code s_c = max|w_c| / 127} on the output-channel axis (Conv axis 0; Gemm axis 0 with
 *       transB=1, else 1; MatMul axis 1 of a 2-D weight) and a DequantizeLinear; biases stay
 *       float32;
 *   <li>a residual Add (both inputs depend on the image) gets a pair on each input, so TensorRT can
 *       fuse it into the preceding convolution;
 *   <li>a tensor read by several quantized inputs gets one pair, shared; everything else (ReLU,
 *       pooling, reshapes...) runs on the dequantized float values, as TensorRT decides itself.
 * </ul>
 */
public final class Int8Quantizer {
  /** The placement rules, as recorded in {@link QuantizationMetadata#PLACEMENT}. */
  public static final String PLACEMENT = "trt-explicit:conv-gemm-matmul-inputs,residual-add";

  private static final Set<String> COMPUTE = Set.of("Conv", "Gemm", "MatMul");
  private static final Set<String> QUANTIZED_OPS =
      Set.of(
          "QuantizeLinear",
          "DequantizeLinear",
          "DynamicQuantizeLinear",
          "QLinearConv",
          "QLinearMatMul",
          "ConvInteger",
          "MatMulInteger",
          "QLinearAdd",
          "QGemm");

  private Int8Quantizer() {}

  /**
   * Quantizes {@code model}.
   *
   * @param model a float32 classifier, default-domain opset 13 or newer (per-axis
   *     QuantizeLinear/DequantizeLinear need 13)
   * @param data calibration images (training split), shaped as the model's input
   * @param method how each activation's clipping threshold is chosen
   * @param provenance parent digest and tool version, for the metadata
   * @return the QDQ model, with the parent's metadata plus {@link QuantizationMetadata}'s keys
   * @throws QuantizationException naming the op/node or the shape when the model or the data cannot
   *     be used
   */
  public static ModelProto quantize(
      ModelProto model,
      CalibrationData data,
      Calibration method,
      QuantizationMetadata.Provenance provenance) {
    GraphProto g = model.getGraph();
    checkQuantizable(model);
    data.checkFits(model);
    Map<String, TensorProto> inits = new HashMap<>();
    g.getInitializerList().forEach(t -> inits.put(t.getName(), t));
    Set<String> dep = dependents(g, inits.keySet());

    // ---- what to quantize
    Set<String> activations = new LinkedHashSet<>();
    Map<String, Integer> weightAxis = new LinkedHashMap<>();
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      String op = n.getOpType();
      if (COMPUTE.contains(op)) {
        for (int k = 0; k < 2; k++) {
          String t = n.getInput(k);
          if (dep.contains(t)) {
            activations.add(t);
          } else if (inits.containsKey(t) && inits.get(t).getDataType() == Tensors.FLOAT) {
            int axis = weightAxis(n, k, Tensors.dims(inits.get(t)).length);
            Integer prev = weightAxis.put(t, axis);
            if (prev != null && prev != axis) {
              weightAxis.put(t, -1); // shared along different axes: per tensor
            }
          } else {
            throw new QuantizationException(
                op
                    + " node '"
                    + name(n, i)
                    + "' cannot take Q/DQ:"
                    + " its input '"
                    + t
                    + "' is neither a float32 initializer nor computed from the"
                    + " image (fold constants first, e.g. with onnx-simplifier)");
          }
        }
      } else if (op.equals("Add")
          && n.getInputCount() == 2
          && dep.contains(n.getInput(0))
          && dep.contains(n.getInput(1))) {
        activations.add(n.getInput(0));
        activations.add(n.getInput(1));
      }
    }
    if (activations.isEmpty() && weightAxis.isEmpty()) {
      throw new QuantizationException(
          "the model has no Conv, Gemm or MatMul node: there is"
              + " nothing for INT8 explicit quantization to quantize");
    }

    // ---- calibrate
    List<String> acts = new ArrayList<>(activations);
    Map<String, Histogram> hist = Calibrator.histograms(model, acts, data);

    // ---- rewrite
    Set<String> names = allNames(g);
    List<TensorProto> newInits = new ArrayList<>();
    Map<String, String> dequantized = new HashMap<>();
    List<NodeProto> qdq = new ArrayList<>();
    String zero = fresh("qdq_zero_point", names);
    newInits.add(Tensors.int8Tensor(zero, new byte[] {0}));
    Map<String, List<NodeProto>> pending = new HashMap<>();
    for (String t : acts) {
      float amax = method.amax(hist.get(t));
      float scale = amax > 0 ? amax / 127f : 1f / 127f;
      String s = fresh(t + "_scale", names);
      newInits.add(Tensors.floatTensor(s, new float[] {scale}));
      String q = fresh(t + "_quantized", names);
      String dq = fresh(t + "_dequantized", names);
      pending.put(
          t,
          List.of(
              node(
                  "QuantizeLinear",
                  fresh(t + "_QuantizeLinear", names),
                  List.of(t, s, zero),
                  q,
                  -1),
              node(
                  "DequantizeLinear",
                  fresh(t + "_DequantizeLinear", names),
                  List.of(q, s, zero),
                  dq,
                  -1)));
      dequantized.put(t, dq);
    }
    for (Map.Entry<String, Integer> e : weightAxis.entrySet()) {
      TensorProto w = inits.get(e.getKey());
      String dq = fresh(e.getKey() + "_dequantized", names);
      qdq.addAll(weight(w, e.getValue(), dq, names, newInits));
      dequantized.put(e.getKey(), dq);
    }
    List<NodeProto> nodes = new ArrayList<>(qdq);
    Set<String> emitted = new HashSet<>();
    for (String in : OnnxModels.dataInputs(g).stream().map(ValueInfoProto::getName).toList()) {
      if (pending.containsKey(in) && emitted.add(in)) {
        nodes.addAll(pending.get(in));
      }
    }
    for (NodeProto n : g.getNodeList()) {
      boolean target =
          COMPUTE.contains(n.getOpType())
              || (n.getOpType().equals("Add")
                  && activations.contains(n.getInput(0))
                  && activations.contains(n.getInput(1))
                  && n.getInputCount() == 2);
      if (target) {
        NodeProto.Builder nb = n.toBuilder();
        for (int k = 0; k < Math.min(2, n.getInputCount()); k++) {
          String r = dequantized.get(n.getInput(k));
          if (r != null) {
            nb.setInput(k, r);
          }
        }
        nodes.add(nb.build());
      } else {
        nodes.add(n);
      }
      for (String o : n.getOutputList()) {
        if (pending.containsKey(o) && emitted.add(o)) {
          nodes.addAll(pending.get(o));
        }
      }
    }
    Set<String> used = new HashSet<>();
    nodes.forEach(n -> used.addAll(n.getInputList()));
    g.getOutputList().forEach(o -> used.add(o.getName()));
    GraphProto.Builder gb = g.toBuilder().clearNode().addAllNode(nodes).clearInitializer();
    for (TensorProto t : g.getInitializerList()) {
      if (used.contains(t.getName())) {
        gb.addInitializer(t);
      }
    }
    gb.addAllInitializer(newInits);
    List<ValueInfoProto> inputs = new ArrayList<>(gb.getInputList());
    gb.clearInput();
    inputs.stream()
        .filter(v -> !inits.containsKey(v.getName()) || used.contains(v.getName()))
        .forEach(gb::addInput);
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(QuantizationMetadata.PRECISION, "int8");
    meta.put(QuantizationMetadata.CALIBRATION, method.id());
    meta.put(QuantizationMetadata.CALIBRATION_SAMPLES, Integer.toString(data.n()));
    meta.put(QuantizationMetadata.CALIBRATION_SHA256, data.sha256());
    meta.put(QuantizationMetadata.CALIBRATION_SOURCE, data.source());
    meta.put(QuantizationMetadata.PLACEMENT, PLACEMENT);
    meta.put(QuantizationMetadata.PARENT_SHA256, provenance.parentSha256());
    meta.put(QuantizationMetadata.TOOL_VERSION, provenance.toolVersion());
    ModelProto out = model.toBuilder().setGraph(gb).build();
    OnnxModels.check(out, "quantized model");
    return QuantizationMetadata.with(out, meta);
  }

  /**
   * Rejects models that cannot be quantized here: already quantized, float16, subgraphs, ops of
   * other domains, opset below 13, a non-float32 input.
   *
   * @throws QuantizationException naming the op and node
   */
  static void checkQuantizable(ModelProto model) {
    OnnxModels.check(model, "model");
    long opset = OnnxModels.defaultOpset(model);
    if (opset < 13) {
      throw new QuantizationException(
          "the model uses opset "
              + opset
              + "; per-channel"
              + " QuantizeLinear/DequantizeLinear need opset 13 or newer (re-export with opset >= 13)");
    }
    GraphProto g = model.getGraph();
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      String op =
          n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx")
              ? n.getOpType()
              : n.getDomain() + "." + n.getOpType();
      if (QUANTIZED_OPS.contains(op)) {
        throw new QuantizationException(
            "the model is already quantized ("
                + op
                + " node '"
                + name(n, i)
                + "'); quantize its float32 parent instead");
      }
      if (!op.equals(n.getOpType())) {
        throw new QuantizationException(
            "op "
                + op
                + " (node '"
                + name(n, i)
                + "') cannot take"
                + " Q/DQ: it is not a standard ONNX op, so neither TensorRT's explicit quantization"
                + " nor this tool knows its semantics");
      }
      if (GraphIndex.hasSubgraph(n)) {
        throw new QuantizationException(
            "op "
                + op
                + " (node '"
                + name(n, i)
                + "') cannot take"
                + " Q/DQ: it holds a subgraph (control flow), which is not quantized");
      }
    }
    for (TensorProto t : g.getInitializerList()) {
      if (t.getDataType() == Tensors.FLOAT16) {
        throw new QuantizationException(
            "initializer '" + t.getName() + "' is float16; quantize" + " the float32 model");
      }
    }
    List<ValueInfoProto> ins = OnnxModels.dataInputs(g);
    if (ins.size() != 1 || ins.get(0).getType().getTensorType().getElemType() != Tensors.FLOAT) {
      throw new QuantizationException(
          "quantization needs a classifier with one float32 image"
              + " input; the model has "
              + ins.size()
              + " input(s)"
              + (ins.size() == 1
                  ? " of element type " + ins.get(0).getType().getTensorType().getElemType()
                  : ""));
    }
  }

  /** Output-channel axis of a weight at input {@code k} of {@code n}, or -1 for per tensor. */
  private static int weightAxis(NodeProto n, int k, int rank) {
    if (k != 1) {
      return -1;
    }
    return switch (n.getOpType()) {
      case "Conv" -> 0;
      case "Gemm" -> GraphIndex.intAttr(n, "transB", 0) == 1 ? 0 : 1;
      case "MatMul" -> rank == 2 ? 1 : -1;
      default -> -1;
    };
  }

  /** int8 weight, scales, zero points and the DequantizeLinear producing {@code out}. */
  private static List<NodeProto> weight(
      TensorProto w, int axis, String out, Set<String> names, List<TensorProto> newInits) {
    float[] v = Tensors.toFloatArray(w);
    long[] dims = Tensors.dims(w);
    int channels = axis < 0 ? 1 : (int) dims[axis];
    long inner = 1;
    for (int d = axis + 1; axis >= 0 && d < dims.length; d++) {
      inner *= dims[d];
    }
    float[] amax = new float[channels];
    for (int i = 0; i < v.length; i++) {
      int c = axis < 0 ? 0 : (int) ((i / inner) % channels);
      amax[c] = Math.max(amax[c], Math.abs(v[i]));
    }
    float[] scale = new float[channels];
    for (int c = 0; c < channels; c++) {
      scale[c] = amax[c] > 0 ? amax[c] / 127f : 1f;
    }
    byte[] q = new byte[v.length];
    for (int i = 0; i < v.length; i++) {
      int c = axis < 0 ? 0 : (int) ((i / inner) % channels);
      q[i] = (byte) Math.max(-127, Math.min(127, Math.rint(v[i] / scale[c])));
    }
    String qn = fresh(w.getName() + "_quantized", names);
    String sn = fresh(w.getName() + "_scale", names);
    String zn = fresh(w.getName() + "_zero_point", names);
    newInits.add(Tensors.int8Tensor(qn, q, dims));
    if (axis < 0) {
      newInits.add(Tensors.floatTensor(sn, scale));
      newInits.add(Tensors.int8Tensor(zn, new byte[1]));
    } else {
      newInits.add(Tensors.floatTensor(sn, scale, channels));
      newInits.add(Tensors.int8Tensor(zn, new byte[channels], channels));
    }
    return List.of(
        node(
            "DequantizeLinear",
            fresh(w.getName() + "_DequantizeLinear", names),
            List.of(qn, sn, zn),
            out,
            axis));
  }

  private static NodeProto node(
      String op, String name, List<String> inputs, String output, int axis) {
    NodeProto.Builder b =
        NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(inputs).addOutput(output);
    if (axis >= 0) {
      b.addAttribute(
          AttributeProto.newBuilder()
              .setName("axis")
              .setType(AttributeProto.AttributeType.INT)
              .setI(axis));
    }
    return b.build();
  }

  /** Tensors computed from a graph data input (not from initializers only). */
  static Set<String> dependents(GraphProto g, Set<String> inits) {
    Set<String> dep = new HashSet<>();
    for (ValueInfoProto v : g.getInputList()) {
      if (!inits.contains(v.getName())) {
        dep.add(v.getName());
      }
    }
    for (NodeProto n : g.getNodeList()) {
      if (n.getInputList().stream().anyMatch(dep::contains)
          && !Set.of("Shape", "Size").contains(n.getOpType())) {
        n.getOutputList().stream().filter(o -> !o.isEmpty()).forEach(dep::add);
      }
    }
    return dep;
  }

  static Set<String> allNames(GraphProto g) {
    Set<String> names = new HashSet<>();
    g.getInputList().forEach(v -> names.add(v.getName()));
    g.getOutputList().forEach(v -> names.add(v.getName()));
    g.getInitializerList().forEach(t -> names.add(t.getName()));
    for (NodeProto n : g.getNodeList()) {
      names.addAll(n.getInputList());
      names.addAll(n.getOutputList());
      names.add(n.getName());
    }
    return names;
  }

  static String fresh(String hint, Set<String> names) {
    String s = hint;
    for (int i = 1; names.contains(s); i++) {
      s = hint + "_" + i;
    }
    names.add(s);
    return s;
  }

  static String name(NodeProto n, int i) {
    return n.getName().isEmpty() ? "#" + i + " (unnamed)" : n.getName();
  }
}
