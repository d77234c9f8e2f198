package dev.arat.onnx.testsupport;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.arat.onnx.GraphBuilder;

/** QuantizeLinear/DequantizeLinear pairs for test models (the Op enum has no Q/DQ entries). */
public final class QdqNodes {
  private QdqNodes() {}

  /**
   * Appends {@code DequantizeLinear(QuantizeLinear(x, s, zp), s, zp)} to {@code g}.
   *
   * @param scaleName an initializer holding the scale
   * @param zeroPoint the zero point tensor (int8 or uint8); added as an initializer
   * @return the name of the dequantized tensor
   */
  public static String pair(GraphBuilder g, String x, String scaleName, TensorProto zeroPoint) {
    String z = g.initializer(zeroPoint);
    String q = g.uniqueName(x + "_q");
    String dq = g.uniqueName(x + "_dq");
    g.appendRaw(node("QuantizeLinear", q, x, scaleName, z));
    g.appendRaw(node("DequantizeLinear", dq, q, scaleName, z));
    return dq;
  }

  private static NodeProto node(String op, String out, String in, String scale, String zp) {
    return NodeProto.newBuilder()
        .setOpType(op)
        .setName(out)
        .addInput(in)
        .addInput(scale)
        .addInput(zp)
        .addOutput(out)
        .build();
  }
}
