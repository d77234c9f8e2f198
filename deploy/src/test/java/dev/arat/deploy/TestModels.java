package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Tensors;
import dev.arat.onnx.testsupport.LinearModel;

/** Small ONNX classifiers on the synthetic dataset (1x28x28, 10 classes) for package tests. */
final class TestModels {
  private TestModels() {}

  /**
   * {@link LinearModel#syntheticNearestMean()} as ONNX; with {@code levels > 0} its weights are
   * {@link LinearModel#rounded rounded} to that many steps per sign, a stand-in for a quantized
   * variant.
   */
  static ModelProto nearestMean(int levels) {
    return nearestMean(levels, null);
  }

  /**
   * {@link #nearestMean(int)}; a variant ({@code levels > 0}) names {@code parentSha256} as its
   * parent.
   */
  static ModelProto nearestMean(int levels, String parentSha256) {
    LinearModel m = LinearModel.syntheticNearestMean();
    if (levels > 0) {
      m = m.rounded(levels);
    }
    GraphBuilder g = new GraphBuilder("nearest-mean");
    String z = m.addTo(g, g.imageInput("input", 1, 28, 28));
    g.output(z, "logits", Tensors.FLOAT, "N", m.k());
    g.metadata("arat.dataset", "synthetic");
    if (levels > 0) {
      g.metadata(
          "arat.quantize.precision",
          "int" + (32 - Integer.numberOfLeadingZeros(levels) + 1) + "-weights");
      if (parentSha256 != null) {
        g.metadata("arat.quantize.parent_sha256", parentSha256);
      }
    }
    return g.build(17);
  }
}
