package dev.arat.evaluator.ort;

/**
 * How ONNX Runtime runs: execution provider and threading.
 *
 * @param provider the execution provider ({@link ExecutionProvider#CPU} by default)
 * @param deviceId the GPU ordinal for CUDA/TensorRT ({@code >= 0}; ignored on the CPU)
 * @param intraOpThreads threads inside one operator; {@code <= 0} means available processors
 * @param interOpThreads threads running independent operators in parallel; {@code <= 0} means ONNX
 *     Runtime's default (sequential execution); {@code > 1} switches to parallel execution
 */
public record RuntimeOptions(
    ExecutionProvider provider, int deviceId, int intraOpThreads, int interOpThreads) {
  /** CPU, all cores, sequential execution. */
  public static final RuntimeOptions DEFAULT = new RuntimeOptions(ExecutionProvider.CPU, 0, 0, 0);

  /** Validates. */
  public RuntimeOptions {
    provider = provider == null ? ExecutionProvider.CPU : provider;
    if (deviceId < 0) {
      throw new IllegalArgumentException("device id: must be >= 0, was " + deviceId);
    }
  }

  /** CPU with {@code intraOpThreads} threads. */
  public static RuntimeOptions cpu(int intraOpThreads) {
    return new RuntimeOptions(ExecutionProvider.CPU, 0, intraOpThreads, 0);
  }
}
