package dev.arat.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.arat.attack.ImageBatch;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Tensors;
import dev.arat.onnx.scan.GraphScan;
import dev.arat.testsupport.OnnxChecker;
import dev.arat.testsupport.Python;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** INT8 (QDQ) and FP16 variants: structure, metadata, parity with the parent, bad input. */
class QuantizeTest {
  private static final QuantizationMetadata.Provenance PROV =
      new QuantizationMetadata.Provenance("ab".repeat(32), "test");
  private static final List<Calibration> METHODS =
      List.of(new Calibration.Max(), new Calibration.Percentile(99.99), new Calibration.Entropy());

  @TempDir Path dir;

  private static Map<String, TensorProto> inits(ModelProto m) {
    Map<String, TensorProto> out = new HashMap<>();
    m.getGraph().getInitializerList().forEach(t -> out.put(t.getName(), t));
    return out;
  }

  private static NodeProto producer(ModelProto m, String t) {
    return m.getGraph().getNodeList().stream()
        .filter(n -> n.getOutputList().contains(t))
        .findFirst()
        .orElse(null);
  }

  @Test
  void int8FollowsTensorRtExplicitQuantizationRules() {
    ModelProto parent = TinyModels.residualCnn(1);
    ModelProto q =
        Int8Quantizer.quantize(parent, TinyModels.calibration(64, 2), new Calibration.Max(), PROV);
    Map<String, TensorProto> in = inits(q);
    for (NodeProto n : q.getGraph().getNodeList()) {
      if (n.getOpType().equals("QuantizeLinear") || n.getOpType().equals("DequantizeLinear")) {
        TensorProto zp = in.get(n.getInput(2));
        assertEquals(Tensors.INT8, zp.getDataType(), n.getName());
        for (long v : Tensors.toLongArray(zp)) {
          assertEquals(0, v, n.getName() + " zero point");
        }
      }
      if (java.util.Set.of("Conv", "Gemm", "MatMul", "Add").contains(n.getOpType())) {
        for (int k = 0; k < 2; k++) {
          NodeProto p = producer(q, n.getInput(k));
          assertTrue(
              p != null && p.getOpType().equals("DequantizeLinear"),
              n.getOpType() + " input " + k + " is dequantized");
          boolean weight = in.containsKey(p.getInput(0));
          if (weight) {
            assertEquals(Tensors.INT8, in.get(p.getInput(0)).getDataType());
            long axis =
                p.getAttributeList().stream()
                    .filter(a -> a.getName().equals("axis"))
                    .mapToLong(AttributeProto::getI)
                    .findFirst()
                    .orElse(-1);
            assertEquals(0, axis, "output-channel axis of " + n.getName());
            long channels = Tensors.dims(in.get(p.getInput(0)))[0];
            assertEquals(
                channels,
                Tensors.numel(Tensors.dims(in.get(p.getInput(1)))),
                "one scale per output channel");
          } else {
            assertEquals("QuantizeLinear", producer(q, p.getInput(0)).getOpType());
            assertEquals(
                1,
                Tensors.numel(Tensors.dims(in.get(p.getInput(1)))),
                "per-tensor activation scale");
          }
        }
      }
    }
    // the float weights are gone: the file stores int8
    assertTrue(in.values().stream().noneMatch(t -> t.getName().equals("conv2.weight")));
    Map<String, String> meta = QuantizationMetadata.of(q);
    assertEquals("int8", meta.get(QuantizationMetadata.PRECISION));
    assertEquals("max", meta.get(QuantizationMetadata.CALIBRATION));
    assertEquals("64", meta.get(QuantizationMetadata.CALIBRATION_SAMPLES));
    assertEquals("0".repeat(64), meta.get(QuantizationMetadata.CALIBRATION_SHA256));
    assertEquals("ab".repeat(32), meta.get(QuantizationMetadata.PARENT_SHA256));
    assertEquals("synthetic", meta.get("arat.dataset"), "the parent's metadata is kept");
    // the scan sees straight-through quantization, nothing fatal, TensorRT-compatible
    List<GraphScan.Finding> f = GraphScan.scan(q);
    assertFalse(GraphScan.hasErrors(f), f.toString());
    assertTrue(f.stream().anyMatch(x -> x.code().equals(GraphScan.STRAIGHT_THROUGH)));
    assertTrue(f.stream().noneMatch(x -> x.code().equals(GraphScan.NOT_TENSORRT)));
  }

  @Test
  void everyVariantRunsAndStaysCloseToItsParent() {
    ModelProto parent = TinyModels.residualCnn(3);
    CalibrationData cal = TinyModels.calibration(128, 4);
    CalibrationData held = TinyModels.calibration(200, 5);
    ImageBatch images = new ImageBatch(held.pixels(), held.n(), 1, 8, 8);
    int[] labels;
    try (OrtClassifier p = new OrtClassifier(parent, "parent", 1)) {
      labels = argmax(p.logits(images), TinyModels.K);
    }
    List<ModelProto> variants = new ArrayList<>();
    for (Calibration c : METHODS) {
      variants.add(Int8Quantizer.quantize(parent, cal, c, PROV));
    }
    variants.add(Fp16Converter.convert(parent, PROV));
    for (ModelProto v : variants) {
      Parity r = Parity.compare(parent, v, images, labels);
      String what = QuantizationMetadata.of(v).toString();
      assertEquals(1.0, r.parentAccuracy(), "labels are the parent's predictions");
      assertTrue(r.top1Agreement() >= 0.9, what + ": " + r.summary());
      assertTrue(r.maxAbsLogitDiff() > 0, what + ": a variant differs from its parent");
      boolean fp16 = "fp16".equals(QuantizationMetadata.of(v).get(QuantizationMetadata.PRECISION));
      assertTrue(r.maxAbsLogitDiff() < (fp16 ? 0.02 : 0.5), what + ": " + r.summary());
      assertEquals(r.top1Agreement(), r.variantAccuracy(), 1e-12);
    }
  }

  private static int[] argmax(float[] z, int k) {
    int[] out = new int[z.length / k];
    for (int i = 0; i < out.length; i++) {
      for (int j = 1; j < k; j++) {
        if (z[i * k + j] > z[i * k + out[i]]) {
          out[i] = j;
        }
      }
    }
    return out;
  }

  @Test
  void fp16HasFloat16WeightsAndFloat32Boundaries() {
    ModelProto v = Fp16Converter.convert(TinyModels.residualCnn(6), PROV);
    for (TensorProto t : v.getGraph().getInitializerList()) {
      assertEquals(Tensors.FLOAT16, t.getDataType(), t.getName());
    }
    assertEquals(Tensors.FLOAT, v.getGraph().getInput(0).getType().getTensorType().getElemType());
    assertEquals(Tensors.FLOAT, v.getGraph().getOutput(0).getType().getTensorType().getElemType());
    List<NodeProto> nodes = v.getGraph().getNodeList();
    assertEquals("Cast", nodes.get(0).getOpType());
    assertEquals("Cast", nodes.get(nodes.size() - 1).getOpType());
    assertEquals("fp16", QuantizationMetadata.of(v).get(QuantizationMetadata.PRECISION));
  }

  @Test
  void calibrationMethodsChooseTheirThresholds() {
    long[] counts = new long[Histogram.BINS];
    for (int i = 0; i < 256; i++) {
      counts[i] = 1000 - 3L * i; // a dense body in the first eighth of the range
    }
    counts[Histogram.BINS - 1] = 1; // one outlier at the maximum
    Histogram h = new Histogram(8f, counts);
    assertEquals(8f, new Calibration.Max().amax(h));
    float p = new Calibration.Percentile(99.99).amax(h);
    assertTrue(p > 0.5f && p < 1.01f, "percentile ignores the outlier: " + p);
    float e = new Calibration.Entropy().amax(h);
    assertTrue(e >= 0.5f && e < 2f, "entropy clips the outlier: " + e);
    assertEquals(8f, new Calibration.Percentile(100).amax(h));
    assertThrows(IllegalArgumentException.class, () -> Calibration.parse("minmax", 99));
  }

  @Test
  void badInputGetsOneClearMessage() {
    ModelProto parent = TinyModels.residualCnn(7);
    // calibration images of another shape
    CalibrationData wrong = new CalibrationData(new float[2 * 3 * 8 * 8], 2, 3, 8, 8, "x", "rgb");
    QuantizationException e =
        assertThrows(
            QuantizationException.class,
            () -> Int8Quantizer.quantize(parent, wrong, new Calibration.Max(), PROV));
    assertTrue(
        e.getMessage().contains("3x8x8") && e.getMessage().contains("1x8x8"), e.getMessage());
    // a fixed batch size and a channels-last input: refused with what to do (not ONNX Runtime's
    // error)
    var in = parent.getGraph().getInput(0);
    var dims = in.getType().getTensorType().getShape();
    ModelProto fixed =
        parent.toBuilder()
            .setGraph(
                parent.getGraph().toBuilder()
                    .setInput(
                        0,
                        in.toBuilder()
                            .setType(
                                in.getType().toBuilder()
                                    .setTensorType(
                                        in.getType().getTensorType().toBuilder()
                                            .setShape(
                                                dims.toBuilder()
                                                    .setDim(
                                                        0,
                                                        dims.getDim(0).toBuilder()
                                                            .clearDimParam()
                                                            .setDimValue(1)))))))
            .build();
    e =
        assertThrows(
            QuantizationException.class,
            () ->
                Int8Quantizer.quantize(
                    fixed, TinyModels.calibration(8, 1), new Calibration.Max(), PROV));
    assertTrue(
        e.getMessage().contains("fixed batch size 1") && e.getMessage().contains("fp16"),
        e.getMessage());
    ModelProto last =
        parent.toBuilder()
            .setGraph(
                parent.getGraph().toBuilder()
                    .setInput(
                        0,
                        in.toBuilder()
                            .setType(
                                in.getType().toBuilder()
                                    .setTensorType(
                                        in.getType().getTensorType().toBuilder()
                                            .setShape(
                                                dims.toBuilder()
                                                    .setDim(1, dims.getDim(2))
                                                    .setDim(2, dims.getDim(3))
                                                    .setDim(3, dims.getDim(1)))))))
            .build();
    e =
        assertThrows(
            QuantizationException.class,
            () ->
                Int8Quantizer.quantize(
                    last, TinyModels.calibration(8, 1), new Calibration.Max(), PROV));
    assertTrue(
        e.getMessage().contains("channels-last") && e.getMessage().contains("fp16"),
        e.getMessage());
    // an op that cannot take Q/DQ (custom domain)
    ModelProto custom =
        parent.toBuilder()
            .setGraph(
                parent.getGraph().toBuilder()
                    .setNode(
                        1,
                        parent.getGraph().getNode(1).toBuilder()
                            .setDomain("com.example")
                            .setOpType("MyRelu")))
            .addOpsetImport(
                ai.onnx.proto.OnnxMl.OperatorSetIdProto.newBuilder()
                    .setDomain("com.example")
                    .setVersion(1))
            .build();
    e =
        assertThrows(
            QuantizationException.class,
            () ->
                Int8Quantizer.quantize(
                    custom, TinyModels.calibration(4, 1), new Calibration.Max(), PROV));
    assertTrue(e.getMessage().contains("com.example.MyRelu"), e.getMessage());
    // already quantized
    ModelProto q =
        Int8Quantizer.quantize(parent, TinyModels.calibration(8, 1), new Calibration.Max(), PROV);
    e = assertThrows(QuantizationException.class, () -> Fp16Converter.convert(q, PROV));
    assertTrue(e.getMessage().contains("already quantized"), e.getMessage());
  }

  @Test
  void variantsPassTheOnnxChecker() throws Exception {
    Python.assumeModules("onnx");
    ModelProto parent = TinyModels.residualCnn(8);
    List<Path> files = new ArrayList<>();
    int i = 0;
    for (Calibration c : METHODS) {
      Path f = dir.resolve("int8-" + i++ + ".onnx");
      OnnxModels.save(Int8Quantizer.quantize(parent, TinyModels.calibration(32, 9), c, PROV), f);
      files.add(f);
    }
    Path f = dir.resolve("fp16.onnx");
    OnnxModels.save(Fp16Converter.convert(parent, PROV), f);
    files.add(f);
    OnnxChecker.assertAccepts(files);
  }
}
