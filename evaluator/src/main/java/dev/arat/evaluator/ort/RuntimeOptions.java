package dev.arat.evaluator.ort;

/**
 * How ONNX Runtime runs: execution provider and threading.
 *
 * @param provider the execution provider ({@link ExecutionProvider#CPU} by default)
 * @param deviceId the GPU ordinal for CUDA/TensorRT ({@code >= 0}; ignored on the CPU)
 * @param intraOpThreads threads inside one operator; {@code <= 0} means available processors
 * @param interOpThreads threads running independent operators in parallel; {@code <= 0} means ONNX
 *     Runtime's default (sequential execution); {@code > 1} switches to parallel execution
 * @param gradientLanes gradient sessions per loss head that compute the parts of a gradient call's
 *     batch concurrently, sharing the intra-op threads ({@link OrtSessions#laneThreads}): 1, 2 or 4
 *     (a divisor of {@link OrtSessions#GRADIENT_PARTS}), or 0 for automatic ({@link
 *     OrtSessions#gradientLanes}); only on the CPU; results do not depend on it
 */
public record RuntimeOptions(
    ExecutionProvider provider,
    int deviceId,
    int intraOpThreads,
    int interOpThreads,
    int gradientLanes) {
  /** CPU, all cores, sequential execution, automatic gradient lanes. */
  public static final RuntimeOptions DEFAULT = new RuntimeOptions(ExecutionProvider.CPU, 0, 0, 0);

  /** Validates. */
  public RuntimeOptions {
    provider = provider == null ? ExecutionProvider.CPU : provider;
    if (deviceId < 0) {
      throw new IllegalArgumentException("device id: must be >= 0, was " + deviceId);
    }
    if (gradientLanes < 0
        || (gradientLanes > 0 && OrtSessions.GRADIENT_PARTS % gradientLanes != 0)) {
      throw new IllegalArgumentException(
          "gradient lanes: must be 1, 2 or 4 (or 0: automatic), was " + gradientLanes);
    }
  }

  /** Automatic gradient lanes. */
  public RuntimeOptions(
      ExecutionProvider provider, int deviceId, int intraOpThreads, int interOpThreads) {
    this(provider, deviceId, intraOpThreads, interOpThreads, 0);
  }

  /** CPU with {@code intraOpThreads} threads. */
  public static RuntimeOptions cpu(int intraOpThreads) {
    return new RuntimeOptions(ExecutionProvider.CPU, 0, intraOpThreads, 0);
  }

  /** These options with {@code threads} intra-op threads ({@code <= 0}: all processors). */
  public RuntimeOptions withIntraOpThreads(int threads) {
    return new RuntimeOptions(provider, deviceId, threads, interOpThreads, gradientLanes);
  }

  /** These options with {@code threads} inter-op threads ({@code > 1}: parallel execution). */
  public RuntimeOptions withInterOpThreads(int threads) {
    return new RuntimeOptions(provider, deviceId, intraOpThreads, threads, gradientLanes);
  }

  /** These options on execution provider {@code p}. */
  public RuntimeOptions withProvider(ExecutionProvider p) {
    return new RuntimeOptions(p, deviceId, intraOpThreads, interOpThreads, gradientLanes);
  }

  /** These options with {@code lanes} gradient lanes (1, 2 or 4; 0: automatic). */
  public RuntimeOptions withGradientLanes(int lanes) {
    return new RuntimeOptions(provider, deviceId, intraOpThreads, interOpThreads, lanes);
  }
}
