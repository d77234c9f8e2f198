package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Tensors;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Converts a float32 ONNX classifier to float16, the form an FP16 deployment ({@code trtexec
 * --fp16}, a float16 converter) computes in: every float32 initializer and Constant becomes float16
 * (round to nearest even), internal Casts to float32 become Casts to float16, and a Cast at each
 * boundary keeps the graph's input and outputs float32. Inputs that ONNX requires in float32
 * whatever the data type (Resize's {@code scales}) stay float32.
 */
public final class Fp16Converter {
  /** Inputs that must stay float32: op type to input index. */
  private static final Map<String, Integer> FLOAT32_ONLY = Map.of("Resize", 2, "Upsample", 1);

  private Fp16Converter() {}

  /**
   * Converts {@code model}.
   *
   * @param model a float32 classifier (one float32 input, float32 outputs), not quantized
   * @param provenance parent digest and tool version, for the metadata
   * @return the float16 model with float32 input and outputs
   * @throws QuantizationException if the model is already quantized or has float16 parts
   */
  public static ModelProto convert(ModelProto model, QuantizationMetadata.Provenance provenance) {
    Int8Quantizer.checkQuantizable(model);
    GraphProto g = model.getGraph();
    Set<String> keep32 = new HashSet<>();
    for (NodeProto n : g.getNodeList()) {
      Integer k = FLOAT32_ONLY.get(n.getOpType());
      if (k != null && k < n.getInputCount()) {
        keep32.add(n.getInput(k));
      }
    }
    Set<String> names = Int8Quantizer.allNames(g);
    String input = OnnxModels.dataInputs(g).get(0).getName();
    String input16 = Int8Quantizer.fresh(input + "_fp16", names);
    Map<String, String> renamed = new HashMap<>();
    renamed.put(input, input16);
    List<NodeProto> tail = new ArrayList<>();
    for (ValueInfoProto o : g.getOutputList()) {
      if (o.getType().getTensorType().getElemType() == Tensors.FLOAT) {
        String o16 = Int8Quantizer.fresh(o.getName() + "_fp16", names);
        renamed.put(o.getName(), o16);
        tail.add(
            cast(
                Int8Quantizer.fresh(o.getName() + "_to_float32", names),
                o16,
                o.getName(),
                Tensors.FLOAT));
      }
    }
    List<NodeProto> nodes = new ArrayList<>();
    nodes.add(
        cast(Int8Quantizer.fresh(input + "_to_float16", names), input, input16, Tensors.FLOAT16));
    for (NodeProto n : g.getNodeList()) {
      NodeProto.Builder b = n.toBuilder();
      for (int i = 0; i < b.getInputCount(); i++) {
        b.setInput(i, renamed.getOrDefault(b.getInput(i), b.getInput(i)));
      }
      for (int i = 0; i < b.getOutputCount(); i++) {
        b.setOutput(i, renamed.getOrDefault(b.getOutput(i), b.getOutput(i)));
      }
      boolean keep = n.getOutputList().stream().anyMatch(keep32::contains);
      for (int i = 0; i < b.getAttributeCount(); i++) {
        AttributeProto a = b.getAttribute(i);
        if (n.getOpType().equals("Cast")
            && a.getName().equals("to")
            && a.getI() == Tensors.FLOAT
            && !keep) {
          b.setAttribute(i, a.toBuilder().setI(Tensors.FLOAT16));
        } else if (a.hasT()
            && a.getT().getDataType() == Tensors.FLOAT
            && !keep
            && (n.getOpType().equals("Constant") || n.getOpType().equals("ConstantOfShape"))) {
          b.setAttribute(i, a.toBuilder().setT(half(a.getT())));
        }
      }
      nodes.add(b.build());
    }
    nodes.addAll(tail);
    GraphProto.Builder gb =
        g.toBuilder().clearNode().addAllNode(nodes).clearInitializer().clearValueInfo();
    for (TensorProto t : g.getInitializerList()) {
      gb.addInitializer(
          t.getDataType() == Tensors.FLOAT && !keep32.contains(t.getName()) ? half(t) : t);
    }
    ModelProto out = model.toBuilder().setGraph(gb).build();
    OnnxModels.check(out, "float16 model");
    return QuantizationMetadata.with(
        out,
        Map.of(
            QuantizationMetadata.PRECISION, "fp16",
            QuantizationMetadata.PARENT_SHA256, provenance.parentSha256(),
            QuantizationMetadata.TOOL_VERSION, provenance.toolVersion()));
  }

  private static TensorProto half(TensorProto t) {
    return Tensors.float16Tensor(t.getName(), Tensors.toFloatArray(t), Tensors.dims(t));
  }

  private static NodeProto cast(String name, String in, String out, int to) {
    return NodeProto.newBuilder()
        .setOpType("Cast")
        .setName(name)
        .addInput(in)
        .addOutput(out)
        .addAttribute(
            AttributeProto.newBuilder()
                .setName("to")
                .setType(AttributeProto.AttributeType.INT)
                .setI(to))
        .build();
  }
}
