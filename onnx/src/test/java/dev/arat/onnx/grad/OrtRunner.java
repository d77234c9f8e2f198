package dev.arat.onnx.grad;

import ai.onnx.proto.OnnxMl.ModelProto;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/** Test helper: runs a model with ONNX Runtime and returns every output flattened to float. */
final class OrtRunner {
  private OrtRunner() {}

  /** A float32 input: data (row-major) and shape. */
  record F(float[] data, long... shape) {}

  /** An int64 input: data and shape. */
  record L(long[] data, long... shape) {}

  static Map<String, float[]> run(ModelProto model, Map<String, Object> inputs) {
    ai.onnxruntime.OrtEnvironment env = ai.onnxruntime.OrtEnvironment.getEnvironment();
    Map<String, ai.onnxruntime.OnnxTensor> tensors = new HashMap<>();
    try (ai.onnxruntime.OrtSession.SessionOptions o =
        new ai.onnxruntime.OrtSession.SessionOptions()) {
      o.setIntraOpNumThreads(1);
      try (ai.onnxruntime.OrtSession s = env.createSession(model.toByteArray(), o)) {
        for (Map.Entry<String, Object> e : inputs.entrySet()) {
          if (e.getValue() instanceof F f) {
            tensors.put(
                e.getKey(),
                ai.onnxruntime.OnnxTensor.createTensor(env, FloatBuffer.wrap(f.data()), f.shape()));
          } else if (e.getValue() instanceof L l) {
            tensors.put(
                e.getKey(),
                ai.onnxruntime.OnnxTensor.createTensor(env, LongBuffer.wrap(l.data()), l.shape()));
          }
        }
        try (ai.onnxruntime.OrtSession.Result r = s.run(tensors)) {
          Map<String, float[]> out = new LinkedHashMap<>();
          for (Map.Entry<String, ai.onnxruntime.OnnxValue> e : r) {
            ai.onnxruntime.OnnxTensor t = (ai.onnxruntime.OnnxTensor) e.getValue();
            FloatBuffer fb = t.getFloatBuffer();
            float[] a = new float[fb.remaining()];
            fb.get(a);
            out.put(e.getKey(), a);
          }
          return out;
        }
      }
    } catch (ai.onnxruntime.OrtException ex) {
      throw new AssertionError("ORT failed: " + ex.getMessage(), ex);
    } finally {
      tensors.values().forEach(ai.onnxruntime.OnnxTensor::close);
    }
  }
}
