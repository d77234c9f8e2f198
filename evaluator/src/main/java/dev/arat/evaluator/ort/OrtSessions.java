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
      o.setIntraOpNumThreads(threads(runtime));
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
   * Parts of contiguous rows that a gradient call's batch is cut into on the CPU (fewer when it has
   * fewer images, so that each part has at least two; none for a fixed-batch model). The cut
   * depends only on the batch size, never on threads or lanes: ONNX Runtime's kernels give a
   * sample's gradient bits that do not depend on the thread count, but for some graphs (the ViT
   * fixture) they do depend on the batch the sample is in, so a cut that followed the machine's
   * core count would make results depend on the machine (OrtClassifierLanesTest).
   */
  public static final int GRADIENT_PARTS = 4;

  /**
   * Gradient lanes of {@code runtime}: sessions per loss head that compute the {@link
   * #GRADIENT_PARTS parts} of a gradient call concurrently (lane j takes parts j, j + lanes, ...),
   * each with its share of the intra-op threads ({@link #laneThreads}). Data parallelism beats
   * intra-op parallelism for a backward graph's many small memory-bound nodes (each a parallel
   * section that wakes and joins the pool): on the 2-core benchmark machine, two one-thread
   * sessions on halves of a demo-CNN batch of 139 (250) took 32.7 (55.9) ms per gradient call
   * against 44.9 (78.9) ms for one two-thread session on the whole batch; four parts on two lanes
   * took 32.5 (58.5) ms. Forward calls scale within one session and are not cut (bench/README.md).
   *
   * @return 1 on GPU providers; {@code runtime.gradientLanes()} if set; else 4 with at least 4
   *     intra-op threads, 2 with 2 or 3, 1 with 1
   */
  public static int gradientLanes(RuntimeOptions runtime) {
    if (runtime.provider() != ExecutionProvider.CPU) {
      return 1;
    }
    if (runtime.gradientLanes() > 0) {
      return runtime.gradientLanes();
    }
    int threads = threads(runtime);
    return threads >= 4 ? 4 : threads >= 2 ? 2 : 1;
  }

  /**
   * Intra-op threads of each gradient lane's session: the threads shared out as evenly as possible,
   * the first lanes taking the remainder, at least one each (so more lanes than threads run more
   * threads than asked for). Each lane also gets {@code runtime}'s inter-op threads.
   */
  public static int[] laneThreads(RuntimeOptions runtime) {
    int lanes = gradientLanes(runtime);
    int threads = threads(runtime);
    int[] out = new int[lanes];
    for (int i = 0; i < lanes; i++) {
      out[i] = Math.max(1, threads / lanes + (i < threads % lanes ? 1 : 0));
    }
    return out;
  }

  private static int threads(RuntimeOptions runtime) {
    return runtime.intraOpThreads() > 0 ? runtime.intraOpThreads() : DEFAULT_THREADS;
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
