package dev.arat.evaluator;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtProvider;
import ai.onnxruntime.OrtSession;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.grad.GradientGraph;
import dev.arat.onnx.grad.GradientGraphBuilder;
import dev.arat.specs.LossHead;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An ONNX classifier run by ONNX Runtime (CPU by default, CUDA or TensorRT through {@link
 * RuntimeOptions}), with input gradients.
 *
 * <p>Forward calls go to a session on the model itself (logits {@code (N,K)}; when the graph ends
 * in Softmax/LogSoftmax, the pre-softmax tensor is fetched instead, with a diagnostic). Gradient
 * calls go to one session per {@link LossHead}, created on first use, on the input-gradient graph
 * the {@code onnx} module builds ({@link GradientGraphBuilder}): one call returns logits, per-sample
 * loss and the input gradient of their sum.
 *
 * <p>Ownership: this object owns its session options and every session it creates, and closes them
 * in {@link #close()} (idempotent). Tensors and results live only inside one call, in
 * try-with-resources. The shared {@link OrtEnvironment} is never closed. Not thread-safe.
 */
public final class OrtClassifier implements GradientClassifier, AutoCloseable {
  private static final int DEFAULT_THREADS = Runtime.getRuntime().availableProcessors();

  private final OrtEnvironment env;
  private final ModelProto model;
  private final String source;
  private final OrtSession.SessionOptions options;
  private final OrtSession forward;
  private final String inputName;
  private final String logitsName;
  private final int channels;
  private final int height;
  private final int width;
  private final int numClasses;
  private final Map<String, String> metadata;
  private final Set<Diagnostic> diagnostics = new LinkedHashSet<>();
  private final Map<LossHead, OrtSession> gradientSessions = new EnumMap<>(LossHead.class);
  private final ExecutionProvider provider;
  private boolean closed;
  private boolean straightThrough = true;

  /**
   * Opens a model file with as many intra-op threads as there are processors.
   *
   * @throws dev.arat.onnx.OnnxModelException if the file is missing, truncated or not an ONNX model
   * @throws EvaluationException if ONNX Runtime cannot load or run it, or its input is not an image
   */
  public static OrtClassifier open(Path file) {
    return open(file, 0);
  }

  /**
   * Opens a model file.
   *
   * @param file an {@code .onnx} classifier: one float32 input {@code (N,C,H,W)} (N dynamic), first
   *     output logits {@code (N,K)}
   * @param intraOpThreads ONNX Runtime intra-op threads; {@code <= 0} means available processors
   * @throws dev.arat.onnx.OnnxModelException if the file is missing, truncated or not an ONNX model
   * @throws EvaluationException if ONNX Runtime cannot load or run it, or its input is not an image
   */
  public static OrtClassifier open(Path file, int intraOpThreads) {
    return open(file, RuntimeOptions.cpu(intraOpThreads));
  }

  /**
   * Opens a model file with an execution provider and threading options.
   *
   * @param file an {@code .onnx} classifier (see {@link #open(Path, int)})
   * @param runtime provider and threads
   * @throws dev.arat.onnx.OnnxModelException if the file is missing, truncated or not an ONNX model
   * @throws EvaluationException if the provider cannot load, or ONNX Runtime cannot load or run the
   *     model, or its input is not an image
   */
  public static OrtClassifier open(Path file, RuntimeOptions runtime) {
    return new OrtClassifier(OnnxModels.load(file), "model file '" + file + "'", runtime);
  }

  /**
   * Opens an in-memory model.
   *
   * @param model the parsed classifier (see {@link #open(Path, int)} for the contract)
   * @param source how messages name it, e.g. {@code model file 'm.onnx'}
   * @param intraOpThreads ONNX Runtime intra-op threads; {@code <= 0} means available processors
   * @throws EvaluationException if ONNX Runtime cannot load or run it, or its input is not an image
   */
  public OrtClassifier(ModelProto model, String source, int intraOpThreads) {
    this(model, source, RuntimeOptions.cpu(intraOpThreads));
  }

  /**
   * Opens an in-memory model with an execution provider and threading options.
   *
   * @param model the parsed classifier (see {@link #open(Path, int)} for the contract)
   * @param source how messages name it, e.g. {@code model file 'm.onnx'}
   * @param runtime provider and threads
   * @throws EvaluationException if the provider cannot load (kind INPUT, naming what is missing),
   *     ONNX Runtime cannot load or run the model, or its input is not an image
   */
  public OrtClassifier(ModelProto model, String source, RuntimeOptions runtime) {
    this.env = OrtEnvironment.getEnvironment();
    this.source = source;
    GraphProto g = model.getGraph();
    List<ValueInfoProto> inputs = OnnxModels.dataInputs(g);
    if (inputs.size() != 1) {
      throw new EvaluationException(EvaluationException.Kind.INPUT,
          source + ": expected exactly one image input, found " + inputs.size());
    }
    ValueInfoProto in = inputs.get(0);
    this.inputName = in.getName();
    TypeProto.Tensor tt = in.getType().getTensorType();
    if (tt.getElemType() != TensorProto.DataType.FLOAT_VALUE) {
      throw new EvaluationException(EvaluationException.Kind.INPUT,
          source + ": input '" + inputName + "' must be float32, is element type " + tt.getElemType());
    }
    List<TensorShapeProto.Dimension> dims = tt.getShape().getDimList();
    if (dims.size() != 4) {
      throw new EvaluationException(EvaluationException.Kind.INPUT,
          source + ": input '" + inputName + "' must have shape (N,C,H,W), has rank " + dims.size());
    }
    int[] chw = new int[3];
    for (int a = 1; a < 4; a++) {
      TensorShapeProto.Dimension d = dims.get(a);
      if (!d.hasDimValue() || d.getDimValue() <= 0) {
        throw new EvaluationException(EvaluationException.Kind.INPUT,
            source + ": input '" + inputName + "' axis " + a + " must be a fixed size (C,H,W static), is '"
                + (d.hasDimParam() ? d.getDimParam() : "unknown") + "'");
      }
      chw[a - 1] = Math.toIntExact(d.getDimValue());
    }
    this.channels = chw[0];
    this.height = chw[1];
    this.width = chw[2];
    Map<String, String> meta = new LinkedHashMap<>();
    for (StringStringEntryProto e : model.getMetadataPropsList()) {
      meta.put(e.getKey(), e.getValue());
    }
    this.metadata = Collections.unmodifiableMap(meta);

    ModelProto fwd = model;
    String out = g.getOutput(0).getName();
    String pre = preSoftmax(g, out);
    if (pre != null) {
      diagnostics.add(Diagnostic.Code.SOFTMAX_OUTPUT.of("the model's output '" + out + "' is a Softmax/LogSoftmax;"
          + " logits are read from its input '" + pre + "' (attacks and margins use logits, never probabilities)"));
      boolean declared = g.getOutputList().stream().anyMatch(o -> o.getName().equals(pre));
      if (!declared) {
        ValueInfoProto vi = ValueInfoProto.newBuilder().setName(pre).setType(TypeProto.newBuilder()
            .setTensorType(TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE))).build();
        fwd = model.toBuilder().setGraph(g.toBuilder().addOutput(vi)).build();
      }
      out = pre;
    }
    this.model = model;
    this.logitsName = out;
    diagnostics.addAll(GraphChecks.scan(model));

    OrtSession.SessionOptions o = null;
    OrtSession s = null;
    try {
      o = new OrtSession.SessionOptions();
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      o.setIntraOpNumThreads(runtime.intraOpThreads() > 0 ? runtime.intraOpThreads() : DEFAULT_THREADS);
      if (runtime.interOpThreads() > 0) {
        o.setInterOpNumThreads(runtime.interOpThreads());
        if (runtime.interOpThreads() > 1) {
          o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.PARALLEL);
        }
      }
      addProvider(o, runtime, source);
      s = env.createSession(fwd.toByteArray(), o);
    } catch (OrtException e) {
      if (o != null) {
        o.close();
      }
      throw new EvaluationException(EvaluationException.Kind.INPUT,
          "ONNX Runtime cannot load " + source + " (provider " + runtime.provider().id() + "): " + e.getMessage(),
          e.getCode().name(), e);
    } catch (RuntimeException e) {
      if (o != null) {
        o.close();
      }
      throw e;
    }
    this.provider = runtime.provider();
    this.options = o;
    this.forward = s;
    try {
      float[] z = logits(new ImageBatch(new float[channels * height * width], 1, channels, height, width));
      this.numClasses = z.length;
      if (numClasses < 2) {
        throw new EvaluationException(EvaluationException.Kind.INPUT,
            source + ": the output '" + logitsName + "' has " + numClasses + " value(s) per image, a classifier needs >= 2");
      }
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /**
   * Adds the execution provider to {@code o}; a provider this ONNX Runtime build or this machine
   * cannot load is an {@link EvaluationException} of kind INPUT that says what to install.
   */
  static void addProvider(OrtSession.SessionOptions o, RuntimeOptions runtime, String source) throws OrtException {
    ExecutionProvider p = runtime.provider();
    if (p == ExecutionProvider.CPU) {
      return;
    }
    OrtProvider wanted = p == ExecutionProvider.CUDA ? OrtProvider.CUDA : OrtProvider.TENSOR_RT;
    java.util.EnumSet<OrtProvider> available = OrtEnvironment.getAvailableProviders();
    if (!available.contains(wanted)) {
      throw new EvaluationException(EvaluationException.Kind.INPUT, String.format(java.util.Locale.ROOT,
          "execution provider '%s' is not available in this ONNX Runtime build (available: %s); build arat with"
              + " the evaluator's gpu profile (mvn -Darat.gpu package, which uses onnxruntime_gpu) and run on a"
              + " machine with %s, or use --provider cpu", p.id(), available, p == ExecutionProvider.CUDA
              ? "an NVIDIA GPU, CUDA 12 and cuDNN 9" : "an NVIDIA GPU, CUDA 12, cuDNN 9 and TensorRT 10"));
    }
    try {
      if (p == ExecutionProvider.TENSORRT) {
        o.addTensorrt(runtime.deviceId());
      }
      o.addCUDA(runtime.deviceId());
    } catch (OrtException | RuntimeException e) {
      throw new EvaluationException(EvaluationException.Kind.INPUT, "execution provider '" + p.id()
          + "' failed to load for " + source + " on device " + runtime.deviceId() + " (are the CUDA"
          + (p == ExecutionProvider.TENSORRT ? ", cuDNN and TensorRT" : " and cuDNN")
          + " libraries installed and on the library path, and is there such a GPU?): " + e.getMessage(),
          e instanceof OrtException oe ? oe.getCode().name() : null, e);
    }
  }

  /** The execution provider the sessions run on. */
  public ExecutionProvider provider() {
    return provider;
  }

  /** Follows {@code out} back through Identity/Dropout; the input of a final Softmax, else null. */
  private static String preSoftmax(GraphProto g, String out) {
    Map<String, NodeProto> producer = new HashMap<>();
    for (NodeProto n : g.getNodeList()) {
      for (String o : n.getOutputList()) {
        producer.put(o, n);
      }
    }
    String t = out;
    for (int guard = 0; guard < 16; guard++) {
      NodeProto n = producer.get(t);
      if (n == null) {
        return null;
      }
      String op = n.getOpType();
      if (op.equals("Softmax") || op.equals("LogSoftmax")) {
        return n.getInput(0);
      }
      if (!(op.equals("Identity") || op.equals("Dropout"))) {
        return null;
      }
      t = n.getInput(0);
    }
    return null;
  }

  @Override
  public int numClasses() {
    return numClasses;
  }

  /** Channels C of the model's input. */
  public int channels() {
    return channels;
  }

  /** Height H of the model's input. */
  public int height() {
    return height;
  }

  /** Width W of the model's input. */
  public int width() {
    return width;
  }

  /** The input shape {@code [-1, C, H, W]} (batch dynamic). */
  public long[] inputShape() {
    return new long[] {-1, channels, height, width};
  }

  /** The model's {@code metadata_props}, in file order. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The parsed model. */
  public ModelProto model() {
    return model;
  }

  /**
   * Diagnostics about the model (final Softmax skipped, control-flow or random operators, notes of
   * the gradient builder), in order.
   */
  public List<Diagnostic> diagnostics() {
    return List.copyOf(diagnostics);
  }

  /**
   * Computes logits on the forward session.
   *
   * @param x images, float32 {@code (N,C,H,W)} in {@code [0,1]} with the model's C, H, W
   * @return logits {@code (N,K)}
   */
  @Override
  public float[] logits(ImageBatch x) {
    checkOpen();
    checkGeometry(x);
    if (x.n() == 0) {
      return new float[0];
    }
    try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.data()), shape(x));
        OrtSession.Result r = forward.run(Map.of(inputName, t), Set.of(logitsName))) {
      float[] z = floats(r, logitsName, "logits");
      if (z.length % x.n() != 0) {
        throw new EvaluationException(EvaluationException.Kind.INPUT,
            source + ": output '" + logitsName + "' has " + z.length + " values for " + x.n() + " images");
      }
      return z;
    } catch (OrtException e) {
      throw new EvaluationException(EvaluationException.Kind.INTERNAL,
          "ONNX Runtime failed computing logits of " + source + " on " + x.n() + " images: " + e.getMessage(),
          e.getCode().name(), e);
    }
  }

  /**
   * Computes logits, per-sample losses and the input gradient with the gradient session of {@code
   * head} (built and loaded on first use).
   *
   * @throws dev.arat.onnx.grad.UnsupportedOpException if the graph holds an op the gradient builder
   *     cannot differentiate (names the op and node)
   */
  @Override
  public LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head) {
    checkOpen();
    checkGeometry(x);
    int n = x.n();
    if (labels.length != n || (head.targeted() && (targets == null || targets.length != n))) {
      throw new IllegalArgumentException("need one label (and, for " + head.id() + ", one target) per image");
    }
    if (n == 0) {
      return new LossGradient(new float[0], new float[0], new float[0]);
    }
    OrtSession s = gradientSession(head);
    List<OnnxTensor> owned = new ArrayList<>();
    try {
      Map<String, OnnxTensor> feed = new HashMap<>();
      OnnxTensor xt = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.data()), shape(x));
      owned.add(xt);
      feed.put(GradientGraphBuilder.INPUT, xt);
      OnnxTensor yt = OnnxTensor.createTensor(env, LongBuffer.wrap(toLong(labels)), new long[] {n});
      owned.add(yt);
      feed.put(GradientGraphBuilder.LABELS, yt);
      if (head.targeted()) {
        OnnxTensor tt = OnnxTensor.createTensor(env, LongBuffer.wrap(toLong(targets)), new long[] {n});
        owned.add(tt);
        feed.put(GradientGraphBuilder.TARGETS, tt);
      }
      try (OrtSession.Result r = s.run(feed)) {
        float[] z = floats(r, GradientGraphBuilder.LOGITS, "logits");
        float[] loss = floats(r, GradientGraphBuilder.LOSS, "loss");
        float[] grad = floats(r, GradientGraphBuilder.INPUT_GRAD, "input gradient");
        if (z.length != n * numClasses || loss.length != n || grad.length != x.data().length) {
          throw new EvaluationException(EvaluationException.Kind.INTERNAL,
              "gradient graph of " + source + " (" + head.id() + ") returned " + z.length + " logits, " + loss.length
                  + " losses and " + grad.length + " gradient values for " + n + " images");
        }
        return new LossGradient(z, loss, grad);
      }
    } catch (OrtException e) {
      throw new EvaluationException(EvaluationException.Kind.INTERNAL,
          "ONNX Runtime failed computing the " + head.id() + " input gradient of " + source + " on " + n + " images: "
              + e.getMessage(), e.getCode().name(), e);
    } finally {
      for (OnnxTensor t : owned) {
        t.close();
      }
    }
  }

  /**
   * Builds and loads the gradient session of {@code head} now rather than on the first gradient
   * call, so that an op the gradient builder cannot differentiate fails before any attack runs.
   *
   * @throws dev.arat.onnx.grad.UnsupportedOpException naming the first unsupported op and node
   * @throws EvaluationException if ONNX Runtime cannot load the gradient graph
   */
  public void prepare(LossHead head) {
    checkOpen();
    gradientSession(head);
  }

  /**
   * Whether QuantizeLinear/DequantizeLinear pairs are differentiated straight-through (the
   * default) or exactly (zero gradient through the rounding; for diagnosing gradient masking).
   * Takes effect for gradient graphs built after the call.
   */
  public void setStraightThrough(boolean on) {
    this.straightThrough = on;
  }

  /** The gradient session of {@code head}, creating it (and building its graph) on first use. */
  private OrtSession gradientSession(LossHead head) {
    OrtSession s = gradientSessions.get(head);
    if (s != null) {
      return s;
    }
    GradientGraph gg = new GradientGraphBuilder(straightThrough).build(model, head);
    boolean softmaxReported = diagnostics.stream().anyMatch(d -> d.code().equals(Diagnostic.Code.SOFTMAX_OUTPUT.code()));
    for (String note : gg.notes()) {
      boolean aboutSoftmax = note.toLowerCase(java.util.Locale.ROOT).contains("softmax");
      if (!(aboutSoftmax && softmaxReported)) {
        diagnostics.add(Diagnostic.Code.GRADIENT_GRAPH.of("(" + head.id() + ") " + note));
      }
    }
    try {
      s = env.createSession(gg.toByteArray(), options);
    } catch (OrtException e) {
      throw new EvaluationException(EvaluationException.Kind.INTERNAL,
          "ONNX Runtime cannot load the " + head.id() + " input-gradient graph of " + source + ": " + e.getMessage(),
          e.getCode().name(), e);
    }
    gradientSessions.put(head, s);
    return s;
  }

  private float[] floats(OrtSession.Result r, String name, String what) {
    OnnxValue v = r.get(name).orElseThrow(() -> new EvaluationException(EvaluationException.Kind.INTERNAL,
        source + ": ONNX Runtime returned no '" + name + "' (" + what + ")"));
    if (!(v instanceof OnnxTensor t) || t.getInfo().type != ai.onnxruntime.OnnxJavaType.FLOAT) {
      throw new EvaluationException(EvaluationException.Kind.INPUT,
          source + ": output '" + name + "' (" + what + ") must be a float32 tensor, is " + v.getInfo());
    }
    FloatBuffer fb = t.getFloatBuffer();
    float[] out = new float[fb.remaining()];
    fb.get(out);
    return out;
  }

  private void checkGeometry(ImageBatch x) {
    if (x.c() != channels || x.h() != height || x.w() != width) {
      throw new IllegalArgumentException(source + " takes images of " + channels + "x" + height + "x" + width
          + " (CxHxW), got " + x.c() + "x" + x.h() + "x" + x.w());
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException(source + ": classifier used after close()");
    }
  }

  private static long[] shape(ImageBatch x) {
    return new long[] {x.n(), x.c(), x.h(), x.w()};
  }

  private static long[] toLong(int[] a) {
    long[] out = new long[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = a[i];
    }
    return out;
  }

  /** Closes every session, then the options; safe to call more than once. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    List<OrtException> errors = new ArrayList<>();
    for (OrtSession s : gradientSessions.values()) {
      try {
        s.close();
      } catch (OrtException e) {
        errors.add(e);
      }
    }
    gradientSessions.clear();
    if (forward != null) {
      try {
        forward.close();
      } catch (OrtException e) {
        errors.add(e);
      }
    }
    if (options != null) {
      options.close();
    }
    if (!errors.isEmpty()) {
      throw new EvaluationException(EvaluationException.Kind.INTERNAL,
          "closing the ONNX Runtime sessions of " + source + " failed: " + errors.get(0).getMessage(),
          errors.get(0).getCode().name(), errors.get(0));
    }
  }
}
