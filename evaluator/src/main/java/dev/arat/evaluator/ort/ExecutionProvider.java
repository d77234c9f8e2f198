package dev.arat.evaluator.ort;

import dev.arat.evaluator.EvaluationException;
import java.util.Locale;

/**
 * Where ONNX Runtime runs the model. {@link #CPU} always works; {@link #CUDA} and {@link #TENSORRT}
 * need the {@code onnxruntime_gpu} jar (build with the evaluator's {@code gpu} Maven profile,
 * {@code -Darat.gpu}) and a machine with the matching CUDA, cuDNN (and TensorRT) libraries. A
 * provider that cannot load is an {@link EvaluationException} of kind INPUT, never a silent CPU
 * run.
 */
public enum ExecutionProvider {
  /** ONNX Runtime's default CPU provider. */
  CPU,
  /** NVIDIA CUDA (onnxruntime_gpu; CUDA 12, cuDNN 9). */
  CUDA,
  /**
   * NVIDIA TensorRT, with CUDA as fallback for unsupported nodes (onnxruntime_gpu; TensorRT 10).
   */
  TENSORRT;

  /** The lower-case name used on the command line and in reports. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses {@code cpu}, {@code cuda} or {@code tensorrt} (any case). */
  public static ExecutionProvider parse(String s) {
    for (ExecutionProvider p : values()) {
      if (p.id().equalsIgnoreCase(s == null ? "" : s.strip())) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "--provider: expected cpu, cuda or tensorrt, was '" + s + "'");
  }
}
