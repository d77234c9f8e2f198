package dev.arat.onnx.grad;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.Tensors;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The float32 <em>surrogate</em> of a quantized (QDQ) or float16 classifier, whose input gradient
 * is the straight-through estimate of the real model's: BPDA with the identity (Athalye et al.
 * 2018), the backward rule of NVIDIA's fake quantization.
 *
 * <ul>
 *   <li>A QuantizeLinear whose input is a constant (a weight) is evaluated here, and so is a
 *       DequantizeLinear of a constant: the surrogate holds the <em>dequantized weights</em> {@code
 *       (q - zero_point) * scale}, exactly the values the quantized model computes with.
 *   <li>A QuantizeLinear &rarr; DequantizeLinear pair on a tensor that depends on the input becomes
 *       {@code Clip(x, scale * (qmin - zp), scale * (qmax - zp))} (qmin, qmax = -128, 127 for int8,
 *       0, 255 for uint8): identity inside the clip range, zero gradient outside it. The rounding
 *       is dropped (its derivative is zero almost everywhere). Per-tensor scales only.
 *   <li>Float16: initializers and Constants are widened to float32 (exactly: the surrogate computes
 *       with the float16-rounded weights), Casts to float16 become Casts to float32, so Cast
 *       float32/float16 pairs are the identity; declared float16 value types become float32.
 * </ul>
 *
 * <p>With {@code straightThrough = false} the activation pairs are kept as they are (the exact
 * derivative: a QuantizeLinear on the path stops the gradient, so the input gradient is zero);
 * weights are still folded. The surrogate is only for gradients: attacks score every candidate on
 * the real model.
 */
public final class StraightThrough {
  private static final Set<String> QDQ = Set.of("QuantizeLinear", "DequantizeLinear");

  private StraightThrough() {}

  /**
   * A surrogate and what was done to get it.
   *
   * @param model the float32 surrogate classifier (same input, output and tensor names)
   * @param straightThroughPairs activation Q/DQ pairs replaced by a Clip (straight-through)
   * @param foldedConstants weight Q/DQ nodes evaluated into float32 initializers
   * @param float16 whether float16 tensors or Casts were widened to float32
   */
  public record Surrogate(
      ModelProto model, int straightThroughPairs, int foldedConstants, boolean float16) {}

  /** Whether {@code m} has Q/DQ nodes or float16 tensors, so that {@link #of} changes it. */
  public static boolean applies(ModelProto m) {
    GraphProto g = m.getGraph();
    return g.getNodeList().stream()
            .anyMatch(
                n ->
                    n.getDomain().isEmpty()
                        && (QDQ.contains(n.getOpType())
                            || (n.getOpType().equals("Cast") && castTo(n) == Tensors.FLOAT16)))
        || g.getInitializerList().stream().anyMatch(t -> t.getDataType() == Tensors.FLOAT16);
  }

  /**
   * Builds the surrogate of {@code m}.
   *
   * @param m a classifier, possibly with Q/DQ nodes (ONNX opset 13 semantics) or float16 parts
   * @param straightThrough replace activation Q/DQ pairs by their straight-through Clip (else keep
   *     them: exact, zero gradients)
   * @return the surrogate; {@code m} itself (in the record) when nothing applies
   * @throws UnsupportedOpException for an activation QuantizeLinear with per-axis scales, or whose
   *     output feeds anything but a DequantizeLinear with the same scale and zero point
   */
  public static Surrogate of(ModelProto m, boolean straightThrough) {
    GraphProto g = m.getGraph();
    Map<String, TensorProto> consts = new LinkedHashMap<>();
    boolean f16 = false;
    for (TensorProto t : g.getInitializerList()) {
      if (t.getDataType() == Tensors.FLOAT16) {
        f16 = true;
        t = Tensors.floatTensor(t.getName(), Tensors.float16ToFloatArray(t), Tensors.dims(t));
      }
      consts.put(t.getName(), t);
    }
    Map<String, List<NodeProto>> consumers = new HashMap<>();
    for (NodeProto n : g.getNodeList()) {
      for (String in : n.getInputList()) {
        consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
      }
    }
    Set<String> graphOutputs = new HashSet<>();
    g.getOutputList().forEach(o -> graphOutputs.add(o.getName()));
    List<NodeProto> nodes = new ArrayList<>();
    Map<String, NodeProto> pendingQ = new HashMap<>();
    int pairs = 0;
    int folded = 0;
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      String op = n.getDomain().isEmpty() ? n.getOpType() : "";
      if (op.equals("Constant")) {
        NodeProto w = widenConstant(n);
        f16 |= w != n;
        nodes.add(w);
        continue;
      }
      if (op.equals("Cast") && castTo(n) == Tensors.FLOAT16) {
        f16 = true;
        nodes.add(setCastTo(n, Tensors.FLOAT));
        continue;
      }
      if (QDQ.contains(op)
          && n.getInputList().stream().filter(s -> !s.isEmpty()).allMatch(consts::containsKey)) {
        TensorProto v = op.equals("QuantizeLinear") ? quantize(n, consts) : dequantize(n, consts);
        consts.put(v.getName(), v);
        folded++;
        continue;
      }
      if (op.equals("QuantizeLinear") && straightThrough) {
        for (NodeProto c : consumers.getOrDefault(n.getOutput(0), List.of())) {
          if (!c.getOpType().equals("DequantizeLinear")
              || !c.getDomain().isEmpty()
              || !sameParameters(n, c, consts)) {
            throw new UnsupportedOpException(
                "QuantizeLinear",
                name(n, i),
                "the output of"
                    + " QuantizeLinear node '"
                    + name(n, i)
                    + "' feeds "
                    + c.getOpType()
                    + " node '"
                    + c.getName()
                    + "'; straight-through gradients need each QuantizeLinear on the"
                    + " path followed by DequantizeLinear nodes with the same scale and zero point");
          }
        }
        if (graphOutputs.contains(n.getOutput(0))) {
          throw new UnsupportedOpException(
              "QuantizeLinear",
              name(n, i),
              "QuantizeLinear node '"
                  + name(n, i)
                  + "' produces a graph output; no gradient can be defined for it");
        }
        TensorProto scale = consts.get(n.getInput(1));
        if (scale == null || Tensors.numel(Tensors.dims(scale)) != 1) {
          throw new UnsupportedOpException(
              "QuantizeLinear",
              name(n, i),
              "QuantizeLinear node '"
                  + name(n, i)
                  + "' quantizes a tensor that depends on the input with "
                  + (scale == null ? "a scale that is not an initializer" : "per-axis scales")
                  + "; straight-through gradients support constant per-tensor activation scales");
        }
        pendingQ.put(n.getOutput(0), n);
        continue;
      }
      if (op.equals("DequantizeLinear") && pendingQ.containsKey(n.getInput(0))) {
        NodeProto q = pendingQ.get(n.getInput(0));
        float s = Tensors.toFloatArray(consts.get(q.getInput(1)))[0];
        TensorProto zpT =
            q.getInputCount() > 2 && !q.getInput(2).isEmpty() ? consts.get(q.getInput(2)) : null;
        long zp = zpT == null ? 0 : Tensors.toLongArray(zpT)[0];
        boolean unsigned = zpT == null || zpT.getDataType() == Tensors.UINT8;
        long qmin = unsigned ? 0 : -128;
        long qmax = unsigned ? 255 : 127;
        String lo = fresh(n.getOutput(0) + "_ste_lo", consts);
        consts.put(lo, Tensors.floatTensor(lo, new float[] {s * (qmin - zp)}));
        String hi = fresh(n.getOutput(0) + "_ste_hi", consts);
        consts.put(hi, Tensors.floatTensor(hi, new float[] {s * (qmax - zp)}));
        nodes.add(
            NodeProto.newBuilder()
                .setName(n.getName().isEmpty() ? q.getName() + "_ste" : n.getName() + "_ste")
                .setOpType("Clip")
                .addInput(q.getInput(0))
                .addInput(lo)
                .addInput(hi)
                .addOutput(n.getOutput(0))
                .build());
        pairs++;
        continue;
      }
      nodes.add(n);
    }
    if (pairs == 0 && folded == 0 && !f16) {
      return new Surrogate(m, 0, 0, false);
    }
    Set<String> used = new HashSet<>();
    nodes.forEach(n -> used.addAll(n.getInputList()));
    graphOutputs.forEach(used::add);
    GraphProto.Builder gb =
        g.toBuilder().clearNode().addAllNode(nodes).clearInitializer().clearValueInfo();
    for (TensorProto t : consts.values()) {
      if (used.contains(t.getName())) {
        gb.addInitializer(t);
      }
    }
    gb.clearInput();
    for (ValueInfoProto v : g.getInputList()) {
      if (!consts.containsKey(v.getName()) || used.contains(v.getName())) {
        gb.addInput(widen(v));
      }
    }
    gb.clearOutput();
    g.getOutputList().forEach(v -> gb.addOutput(widen(v)));
    return new Surrogate(m.toBuilder().setGraph(gb).build(), pairs, folded, f16);
  }

  private static ValueInfoProto widen(ValueInfoProto v) {
    if (v.getType().hasTensorType()
        && v.getType().getTensorType().getElemType() == Tensors.FLOAT16) {
      TypeProto.Builder t = v.getType().toBuilder();
      t.getTensorTypeBuilder().setElemType(Tensors.FLOAT);
      return v.toBuilder().setType(t).build();
    }
    return v;
  }

  private static NodeProto widenConstant(NodeProto n) {
    for (int i = 0; i < n.getAttributeCount(); i++) {
      AttributeProto a = n.getAttribute(i);
      if (a.getName().equals("value") && a.hasT() && a.getT().getDataType() == Tensors.FLOAT16) {
        TensorProto t = a.getT();
        TensorProto w =
            Tensors.floatTensor(t.getName(), Tensors.float16ToFloatArray(t), Tensors.dims(t));
        return n.toBuilder().setAttribute(i, a.toBuilder().setT(w)).build();
      }
    }
    return n;
  }

  private static long castTo(NodeProto n) {
    return n.getAttributeList().stream()
        .filter(a -> a.getName().equals("to"))
        .mapToLong(AttributeProto::getI)
        .findFirst()
        .orElse(0);
  }

  private static NodeProto setCastTo(NodeProto n, int type) {
    NodeProto.Builder b = n.toBuilder();
    for (int i = 0; i < b.getAttributeCount(); i++) {
      if (b.getAttribute(i).getName().equals("to")) {
        b.setAttribute(i, b.getAttribute(i).toBuilder().setI(type));
      }
    }
    return b.build();
  }

  private static boolean sameParameters(NodeProto q, NodeProto dq, Map<String, TensorProto> c) {
    for (int k = 1; k <= 2; k++) {
      String a = k < q.getInputCount() ? q.getInput(k) : "";
      String b = k < dq.getInputCount() ? dq.getInput(k) : "";
      if (a.equals(b)) {
        continue;
      }
      if (a.isEmpty()
          || b.isEmpty()
          || !c.containsKey(a)
          || !c.containsKey(b)
          || !c.get(a).getRawData().equals(c.get(b).getRawData())
          || c.get(a).getDataType() != c.get(b).getDataType()) {
        return false;
      }
    }
    return true;
  }

  /** Per-element scale and zero point of a Q/DQ node over a tensor of shape {@code dims}. */
  private record Params(float[] scale, long[] zp, int axis, long[] dims, boolean unsigned) {
    int channel(int flat) {
      if (scale.length == 1) {
        return 0;
      }
      long inner = 1;
      for (int d = axis + 1; d < dims.length; d++) {
        inner *= dims[d];
      }
      return (int) ((flat / inner) % dims[axis]);
    }
  }

  private static Params params(NodeProto n, long[] dims, Map<String, TensorProto> c) {
    float[] scale = Tensors.toFloatArray(c.get(n.getInput(1)));
    TensorProto zpT =
        n.getInputCount() > 2 && !n.getInput(2).isEmpty() ? c.get(n.getInput(2)) : null;
    long[] zp = zpT == null ? new long[scale.length] : Tensors.toLongArray(zpT);
    long axis =
        n.getAttributeList().stream()
            .filter(a -> a.getName().equals("axis"))
            .mapToLong(AttributeProto::getI)
            .findFirst()
            .orElse(1);
    int ax = (int) (axis < 0 ? axis + dims.length : axis);
    if (scale.length > 1 && (ax < 0 || ax >= dims.length || dims[ax] != scale.length)) {
      throw new OnnxModelException(
          "node '"
              + n.getName()
              + "' ("
              + n.getOpType()
              + "): "
              + scale.length
              + " scales do not match axis "
              + axis
              + " of shape "
              + java.util.Arrays.toString(dims));
    }
    return new Params(scale, zp, ax, dims, zpT == null || zpT.getDataType() == Tensors.UINT8);
  }

  private static TensorProto dequantize(NodeProto n, Map<String, TensorProto> c) {
    TensorProto x = c.get(n.getInput(0));
    long[] dims = Tensors.dims(x);
    Params p = params(n, dims, c);
    long[] q = Tensors.toLongArray(x);
    float[] out = new float[q.length];
    for (int i = 0; i < q.length; i++) {
      int ch = p.channel(i);
      out[i] = (q[i] - p.zp()[ch]) * p.scale()[ch];
    }
    return Tensors.floatTensor(n.getOutput(0), out, dims);
  }

  private static TensorProto quantize(NodeProto n, Map<String, TensorProto> c) {
    TensorProto x = c.get(n.getInput(0));
    long[] dims = Tensors.dims(x);
    Params p = params(n, dims, c);
    float[] v = Tensors.toFloatArray(x);
    long lo = p.unsigned() ? 0 : -128;
    long hi = p.unsigned() ? 255 : 127;
    byte[] out = new byte[v.length];
    for (int i = 0; i < v.length; i++) {
      int ch = p.channel(i);
      long q = (long) Math.rint(v[i] / p.scale()[ch]) + p.zp()[ch];
      out[i] = (byte) Math.max(lo, Math.min(hi, q));
    }
    TensorProto t = Tensors.int8Tensor(n.getOutput(0), out, dims);
    return p.unsigned() ? t.toBuilder().setDataType(Tensors.UINT8).build() : t;
  }

  private static String fresh(String hint, Map<String, TensorProto> taken) {
    String s = hint;
    for (int i = 1; taken.containsKey(s); i++) {
      s = hint + "_" + i;
    }
    return s;
  }

  private static String name(NodeProto n, int i) {
    return n.getName().isEmpty() ? "#" + i + " (unnamed)" : n.getName();
  }
}
