package dev.arat.evaluator.ort;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import dev.arat.evaluator.EvaluationException;

/**
 * The one place where arat sets up ONNX Runtime sessions for evaluation: graph optimisation level,
 * threads, no spinning and the execution provider. {@link OrtClassifier} opens every session with
 * these options, and the benchmarks time sessions opened the same way.
 */
public final class OrtSessions {
  private static final int DEFAULT_THREADS = Runtime.getRuntime().availableProcessors();

  /**
   * ONNX Runtime's graph optimisation level of every session, by its C API name; recorded in {@code
   * report.json} as {@code tool.graph_optimization}. From ORT_ENABLE_EXTENDED on, ORT's QDQ
   * transformer may fuse Q/DQ-wrapped nodes into integer kernels (docs/quantization.md).
   */
  public static final String GRAPH_OPTIMIZATION = "ORT_ENABLE_ALL";

  private OrtSessions() {}

  /**
   * New session options (the caller closes them): all graph optimisations; {@code runtime}'s
   * intra-op threads ({@code <= 0}: one per processor) and inter-op threads (parallel execution
   * above 1); idle workers sleep instead of spinning, because attacks alternate a gradient session
   * and the forward session (one thread pool each) with Java work between calls, and a spinning
   * worker takes a core from them (bench/README.md: a forward call after a gradient call took 36-40
   * ms instead of 23 ms); the execution provider.
   *
   * @param source how messages name the model
   * @throws EvaluationException (INPUT) if the provider cannot be loaded, saying what to install
   * @throws OrtException if ONNX Runtime rejects an option
   */
  public static OrtSession.SessionOptions options(RuntimeOptions runtime, String source)
      throws OrtException {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    try {
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      o.setIntraOpNumThreads(
          runtime.intraOpThreads() > 0 ? runtime.intraOpThreads() : DEFAULT_THREADS);
      o.addConfigEntry("session.intra_op.allow_spinning", "0");
      if (runtime.interOpThreads() > 0) {
        o.setInterOpNumThreads(runtime.interOpThreads());
        if (runtime.interOpThreads() > 1) {
          o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.PARALLEL);
        }
      }
      addProvider(o, runtime, source);
      return o;
    } catch (OrtException | RuntimeException e) {
      o.close();
      throw e;
    }
  }

  /**
   * Adds the execution provider to {@code o}; a provider this ONNX Runtime build or this machine
   * cannot load is an {@link EvaluationException} of kind INPUT that says what to install.
   */
  static void addProvider(OrtSession.SessionOptions o, RuntimeOptions runtime, String source)
      throws OrtException {
    ExecutionProvider p = runtime.provider();
    if (p == ExecutionProvider.CPU) {
      return;
    }
    OrtProvider wanted = p == ExecutionProvider.CUDA ? OrtProvider.CUDA : OrtProvider.TENSOR_RT;
    java.util.EnumSet<OrtProvider> available = OrtEnvironment.getAvailableProviders();
    if (!available.contains(wanted)) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          String.format(
              java.util.Locale.ROOT,
              "execution provider '%s' is not available in this ONNX Runtime build (available: %s); build arat with"
                  + " the evaluator's gpu profile (mvn -Darat.gpu package, which uses onnxruntime_gpu) and run on a"
                  + " machine with %s, or use --provider cpu",
              p.id(),
              available,
              p == ExecutionProvider.CUDA
                  ? "an NVIDIA GPU, CUDA 12 and cuDNN 9"
                  : "an NVIDIA GPU, CUDA 12, cuDNN 9 and TensorRT 10"));
    }
    try {
      if (p == ExecutionProvider.TENSORRT) {
        o.addTensorrt(runtime.deviceId());
      }
      o.addCUDA(runtime.deviceId());
    } catch (OrtException | RuntimeException e) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          "execution provider '"
              + p.id()
              + "' failed to load for "
              + source
              + " on device "
              + runtime.deviceId()
              + " (are the CUDA"
              + (p == ExecutionProvider.TENSORRT ? ", cuDNN and TensorRT" : " and cuDNN")
              + " libraries installed and on the library path, and is there such a GPU?): "
              + e.getMessage(),
          e instanceof OrtException oe ? oe.getCode().name() : null,
          e);
    }
  }
}
