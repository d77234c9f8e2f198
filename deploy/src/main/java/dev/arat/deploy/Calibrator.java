package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.arat.onnx.OnnxModels;
import java.nio.FloatBuffer;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs the float model on the calibration images (ONNX Runtime, no graph optimisation, so every
 * tensor is the float graph's own) and collects, per activation tensor, the histogram of its
 * magnitudes: one pass for {@code max |x|}, a second for the {@link Histogram#BINS}-bin histogram
 * over {@code [0, max]}.
 */
final class Calibrator {
  private static final int BATCH = 64;

  private Calibrator() {}

  /**
   * Histograms of {@code tensors} (float32 activations of {@code model}) over {@code data}.
   *
   * @return one histogram per tensor name, in the order given
   */
  static Map<String, Histogram> histograms(
      ModelProto model, List<String> tensors, CalibrationData data) {
    GraphProto g = model.getGraph();
    Set<String> outs = new HashSet<>();
    g.getOutputList().forEach(o -> outs.add(o.getName()));
    GraphProto.Builder gb = g.toBuilder();
    for (String t : tensors) {
      if (!outs.contains(t)) {
        gb.addOutput(
            ValueInfoProto.newBuilder()
                .setName(t)
                .setType(
                    TypeProto.newBuilder()
                        .setTensorType(
                            TypeProto.Tensor.newBuilder()
                                .setElemType(TensorProto.DataType.FLOAT_VALUE))));
      }
    }
    String input = OnnxModels.dataInputs(g).get(0).getName();
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
      try (OrtSession s =
          env.createSession(model.toBuilder().setGraph(gb).build().toByteArray(), o)) {
        float[] max = new float[tensors.size()];
        pass(
            env,
            s,
            input,
            tensors,
            data,
            (k, v) -> {
              for (float x : v) {
                max[k] = Math.max(max[k], Math.abs(x));
              }
            });
        long[][] counts = new long[tensors.size()][Histogram.BINS];
        pass(env, s, input, tensors, data, (k, v) -> Histogram.add(counts[k], max[k], v));
        Map<String, Histogram> out = new LinkedHashMap<>();
        for (int k = 0; k < tensors.size(); k++) {
          out.put(tensors.get(k), new Histogram(max[k], counts[k]));
        }
        return out;
      }
    } catch (OrtException e) {
      throw new QuantizationException(
          "ONNX Runtime cannot run the float model on the"
              + " calibration images: "
              + e.getMessage());
    }
  }

  private interface Sink {
    void accept(int tensor, float[] values);
  }

  private static void pass(
      OrtEnvironment env,
      OrtSession s,
      String input,
      List<String> tensors,
      CalibrationData d,
      Sink sink)
      throws OrtException {
    int per = d.c() * d.h() * d.w();
    for (int from = 0; from < d.n(); from += BATCH) {
      int m = Math.min(BATCH, d.n() - from);
      FloatBuffer fb = FloatBuffer.wrap(d.pixels(), from * per, m * per).slice();
      try (OnnxTensor x = OnnxTensor.createTensor(env, fb, new long[] {m, d.c(), d.h(), d.w()});
          OrtSession.Result r = s.run(Map.of(input, x), new HashSet<>(tensors))) {
        for (int k = 0; k < tensors.size(); k++) {
          OnnxValue v = r.get(tensors.get(k)).orElseThrow();
          FloatBuffer b = ((OnnxTensor) v).getFloatBuffer();
          float[] vals = new float[b.remaining()];
          b.get(vals);
          sink.accept(k, vals);
        }
      }
    }
  }
}
