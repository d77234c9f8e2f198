package dev.arat.evaluator.ort;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.onnx.GraphIndex;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.grad.GradientGraph;
import dev.arat.onnx.grad.GradientGraphBuilder;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.LossHead;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An ONNX classifier run by ONNX Runtime (CPU by default, CUDA or TensorRT through {@link
 * RuntimeOptions}), with input gradients.
 *
 * <p>Forward calls go to a session on the model itself (logits {@code (N,K)}; when the graph ends
 * in Softmax/LogSoftmax, the pre-softmax tensor is fetched instead, with a diagnostic). Gradient
 * calls go to the sessions of one {@link LossHead}, created on first use, on the input-gradient
 * graph the {@code onnx} module builds ({@link GradientGraphBuilder}): one call returns logits,
 * per-sample loss and the input gradient of their sum. On the CPU a gradient call's batch is cut
 * into {@link OrtSessions#GRADIENT_PARTS} contiguous parts (fewer for fewer images, at least two
 * images each; one for a fixed-batch model), which the head's {@link OrtSessions#gradientLanes
 * gradient lanes} (one session each) compute concurrently, the first lane on the calling thread.
 *
 * <p>Ownership: this object owns its session options and every session it creates, and closes them
 * in {@link #close()} (idempotent). Tensors and results live only inside one call, in
 * try-with-resources. The shared {@link OrtEnvironment} is never closed. Not thread-safe (the lane
 * workers are internal to one call).
 */
public final class OrtClassifier implements GradientClassifier, AutoCloseable {
  private final OrtEnvironment env;
  private final ModelProto model;
  private final String source;
  private final OrtSession.SessionOptions options;

  /**
   * Session options of each gradient lane, one entry per lane (lane 0's are {@link #options} when
   * there is one lane).
   */
  private final List<OrtSession.SessionOptions> laneOptions;

  private final int gradientParts;
  private ExecutorService laneWorkers;
  private final OrtSession forward;
  private final String inputName;
  private final String logitsName;
  private final int channels;
  private final int height;
  private final int width;
  private final int numClasses;
  private final Map<String, String> metadata;
  private final Set<Diagnostic> diagnostics = new LinkedHashSet<>();
  private final Map<LossHead, List<OrtSession>> gradientSessions = new EnumMap<>(LossHead.class);
  private final ExecutionProvider provider;
  private final int fixedBatch;

  /**
   * The fewest images one ONNX Runtime call of a dynamic-batch model gets; a call for fewer is run
   * on copies of its last image, whose outputs are dropped. ORT picks some kernels' loops from the
   * whole shape and drops axes of size 1 first, so one image alone can get other bits than the same
   * image among others (seen: a ReduceMean over the tokens of a torch-exported attention model);
   * from two images on, a sample's bits do not depend on its batch (OrtClassifierLanesTest).
   */
  private static final int MIN_CALL_IMAGES = 2;

  private final ModelInput.Layout layout;
  private final List<String> adaptations;
  private String whiteBox;
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
    return open(file, runtime, null);
  }

  /**
   * Opens a model file with an execution provider, threading options and a normalisation applied to
   * the pixels before the model.
   *
   * @param file an {@code .onnx} classifier (see {@link #OrtClassifier(ModelProto, String,
   *     RuntimeOptions, EvaluationSuite.Normalization)})
   * @param runtime provider and threads
   * @param normalization mean/std applied to the [0,1] pixels before the model, or null
   */
  public static OrtClassifier open(
      Path file, RuntimeOptions runtime, EvaluationSuite.Normalization normalization) {
    return new OrtClassifier(
        OnnxModels.load(file), "model file '" + file + "'", runtime, normalization);
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
    this(model, source, runtime, null);
  }

  /**
   * Opens an in-memory model with an execution provider, threading options and a normalisation
   * applied to the pixels before the model ({@link ModelInput}: channels-last inputs are
   * transposed, a fixed batch size is honoured).
   *
   * @param model the parsed classifier: one float32 input {@code (N,C,H,W)} or {@code (N,H,W,C)} (N
   *     dynamic or fixed), first output logits {@code (N,K)}
   * @param source how messages name it, e.g. {@code model file 'm.onnx'}
   * @param runtime provider and threads
   * @param normalization mean/std applied to the [0,1] pixels before the model, or null
   * @throws EvaluationException (INPUT) if the provider cannot load, ONNX Runtime cannot load or
   *     run the model, or its input is not an image batch
   */
  public OrtClassifier(
      ModelProto model,
      String source,
      RuntimeOptions runtime,
      EvaluationSuite.Normalization normalization) {
    this.env = OrtEnvironment.getEnvironment();
    this.source = source;
    OnnxModels.requireInline(model, source); // ONNX Runtime never opens files a model names
    ModelInput.Adapted adapted = ModelInput.adapt(model, source, normalization);
    this.inputName = adapted.inputName();
    this.channels = adapted.channels();
    this.height = adapted.height();
    this.width = adapted.width();
    this.fixedBatch = adapted.fixedBatch();
    this.layout = adapted.layout();
    this.adaptations = List.copyOf(adapted.adaptations());
    ModelProto original = model;
    model = adapted.model();
    GraphProto g = model.getGraph();
    Map<String, String> meta = new LinkedHashMap<>();
    for (StringStringEntryProto e : original.getMetadataPropsList()) {
      meta.put(e.getKey(), e.getValue());
    }
    this.metadata = Collections.unmodifiableMap(meta);

    ModelProto fwd = model;
    String out = g.getOutput(0).getName();
    String pre = preSoftmax(g, out);
    if (pre != null) {
      diagnostics.add(
          Diagnostic.Code.SOFTMAX_OUTPUT.of(
              "the model's output '"
                  + out
                  + "' is a Softmax/LogSoftmax;"
                  + " logits are read from its input '"
                  + pre
                  + "' (attacks and margins use logits, never probabilities)"));
      boolean declared = g.getOutputList().stream().anyMatch(o -> o.getName().equals(pre));
      if (!declared) {
        ValueInfoProto vi =
            ValueInfoProto.newBuilder()
                .setName(pre)
                .setType(
                    TypeProto.newBuilder()
                        .setTensorType(
                            TypeProto.Tensor.newBuilder()
                                .setElemType(TensorProto.DataType.FLOAT_VALUE)))
                .build();
        fwd = model.toBuilder().setGraph(g.toBuilder().addOutput(vi)).build();
      }
      out = pre;
    }
    this.model = model;
    this.logitsName = out;
    diagnostics.addAll(GraphChecks.scan(model));
    List<String> input = new ArrayList<>(adaptations);
    if (fixedBatch > 0) {
      input.add(
          "the model declares a fixed batch size "
              + fixedBatch
              + "; arat runs it in batches of "
              + fixedBatch
              + " (the last one filled up with copies whose outputs are dropped)");
    }
    if (!input.isEmpty()) {
      diagnostics.add(Diagnostic.Code.MODEL_INPUT.of(String.join("; ", input)));
    }

    OrtSession.SessionOptions o = null;
    List<OrtSession.SessionOptions> lo = new ArrayList<>();
    OrtSession s = null;
    // a fixed batch is run in batches of exactly that size, which parts would only pad
    int parts =
        fixedBatch > 0 || runtime.provider() != ExecutionProvider.CPU
            ? 1
            : OrtSessions.GRADIENT_PARTS;
    int lanes = parts == 1 ? 1 : OrtSessions.gradientLanes(runtime);
    try {
      o = OrtSessions.options(runtime, source);
      if (lanes == 1) {
        lo.add(o);
      } else {
        Map<Integer, OrtSession.SessionOptions> byThreads = new HashMap<>();
        for (int t : OrtSessions.laneThreads(runtime)) {
          OrtSession.SessionOptions same = byThreads.get(t); // lanes with equal shares share one
          if (same == null) {
            same = OrtSessions.options(runtime.withIntraOpThreads(t).withGradientLanes(1), source);
            byThreads.put(t, same);
          }
          lo.add(same);
        }
      }
      s = env.createSession(fwd.toByteArray(), o);
    } catch (OrtException e) {
      closeOptions(o, lo);
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          "ONNX Runtime cannot load "
              + source
              + " (provider "
              + runtime.provider().id()
              + "): "
              + e.getMessage(),
          e.getCode().name(),
          e);
    } catch (RuntimeException e) {
      closeOptions(o, lo);
      throw e;
    }
    this.provider = runtime.provider();
    this.options = o;
    this.gradientParts = parts;
    this.laneOptions = List.copyOf(lo);
    this.forward = s;
    try {
      float[] z;
      try {
        z =
            logits(
                new ImageBatch(new float[channels * height * width], 1, channels, height, width));
      } catch (EvaluationException e) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            "ONNX Runtime cannot run "
                + source
                + " on "
                + (fixedBatch > 0
                    ? "its declared batch size " + fixedBatch
                    : "a batch of 1 image (its batch axis is" + " declared dynamic)")
                + ": "
                + e.getMessage()
                + ". If the model only works for one batch size (for"
                + " example a Reshape to a fixed batch inside the graph), declare that size on the input (the default"
                + " of torch.onnx.export) so that arat runs it in batches of that size, or export it with a dynamic"
                + " batch axis (torch.onnx.export(..., dynamic_axes={'input': {0: 'batch'}}))",
            e.ortErrorCode(),
            e);
      }
      this.numClasses = z.length;
      if (numClasses < 2) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            source
                + ": the output '"
                + logitsName
                + "' has "
                + numClasses
                + " value(s) per image, a classifier needs >= 2");
      }
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /** The execution provider the sessions run on. */
  public ExecutionProvider provider() {
    return provider;
  }

  /**
   * Gradient sessions per loss head that share the parts of each gradient call's batch ({@link
   * OrtSessions#gradientLanes}; 1 for a fixed-batch model and on GPUs).
   */
  public int gradientLanes() {
    return laneOptions.size();
  }

  /** Follows {@code out} back through Identity/Dropout; the input of a final Softmax, else null. */
  private static String preSoftmax(GraphProto g, String out) {
    NodeProto softmax = GraphIndex.of(g.getNodeList()).outputHead(out).softmax();
    return softmax == null ? null : softmax.getInput(0);
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

  /**
   * The input shape {@code [-1, C, H, W]} arat feeds (batch dynamic; see {@link #fixedBatch()}).
   */
  public long[] inputShape() {
    return new long[] {-1, channels, height, width};
  }

  /**
   * The batch size the model declares, or 0 when its batch axis is dynamic. Calls with other batch
   * sizes are run in batches of this size (the last one filled up with copies and dropped).
   */
  public int fixedBatch() {
    return fixedBatch;
  }

  /** Whether the model takes {@code (N,C,H,W)} or channels-last {@code (N,H,W,C)} input. */
  public String layout() {
    return layout.name();
  }

  /**
   * What arat puts in front of the model (transpose, normalisation), in words; empty when nothing.
   */
  public List<String> adaptations() {
    return adaptations;
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
    if (fixedBatch > 0 && x.n() != fixedBatch) {
      int k = -1;
      float[] out = null;
      for (int from = 0; from < x.n(); from += fixedBatch) {
        int cnt = Math.min(fixedBatch, x.n() - from);
        float[] z = logits(padded(x, from, cnt, fixedBatch));
        if (out == null) {
          k = z.length / fixedBatch;
          out = new float[x.n() * k];
        }
        System.arraycopy(z, 0, out, from * k, cnt * k);
      }
      return out;
    }
    if (fixedBatch == 0 && x.n() < MIN_CALL_IMAGES) {
      float[] z = logits(padded(x, 0, x.n(), MIN_CALL_IMAGES));
      return Arrays.copyOf(z, z.length / MIN_CALL_IMAGES * x.n());
    }
    try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.data()), shape(x));
        OrtSession.Result r = forward.run(Map.of(inputName, t), Set.of(logitsName))) {
      float[] z = floats(r, logitsName, "logits");
      if (z.length % x.n() != 0) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            source
                + ": output '"
                + logitsName
                + "' has "
                + z.length
                + " values for "
                + x.n()
                + " images");
      }
      return z;
    } catch (OrtException e) {
      throw new EvaluationException(
          EvaluationException.Kind.INTERNAL,
          "ONNX Runtime failed computing logits of "
              + source
              + " on "
              + x.n()
              + " images: "
              + e.getMessage(),
          e.getCode().name(),
          e);
    }
  }

  /**
   * Computes logits, per-sample losses and the input gradient with the gradient sessions of {@code
   * head} (built and loaded on first use): on the CPU the batch is cut into up to {@link
   * OrtSessions#GRADIENT_PARTS} contiguous parts, which the lanes compute concurrently; every lane
   * has finished when this returns or throws.
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
      throw new IllegalArgumentException(
          "need one label (and, for " + head.id() + ", one target) per image");
    }
    if (n == 0) {
      return new LossGradient(new float[0], new float[0], new float[0]);
    }
    if (fixedBatch > 0 && n != fixedBatch) {
      LossGradient out = emptyResult(x);
      for (int from = 0; from < n; from += fixedBatch) {
        int cnt = Math.min(fixedBatch, n - from);
        LossGradient part =
            lossGradient(
                padded(x, from, cnt, fixedBatch),
                padded(labels, from, cnt, fixedBatch),
                head.targeted() ? padded(targets, from, cnt, fixedBatch) : null,
                head);
        copyRows(part, out, from, cnt);
      }
      return out;
    }
    List<OrtSession> sessions = gradientSessions(head);
    int parts = Math.max(1, Math.min(n / MIN_CALL_IMAGES, gradientParts));
    if (parts == 1) {
      return lossGradient(sessions.get(0), x, labels, targets, head, 0, n);
    }
    LossGradient out = emptyResult(x);
    int used = Math.min(sessions.size(), parts);
    List<Future<?>> others = new ArrayList<>();
    Throwable failure = null;
    try {
      for (int lane = 1; lane < used; lane++) {
        OrtSession s = sessions.get(lane);
        int first = lane;
        others.add(
            laneWorkers()
                .submit(() -> runParts(s, first, used, parts, x, labels, targets, head, out)));
      }
      runParts(sessions.get(0), 0, used, parts, x, labels, targets, head, out);
    } catch (RuntimeException | Error e) {
      failure = e; // lanes already started are still awaited below
    }
    boolean interrupted = false;
    for (Future<?> f : others) {
      while (true) {
        try {
          f.get();
          break;
        } catch (InterruptedException e) {
          interrupted = true; // the lane still runs on sessions this object owns: wait for it
        } catch (ExecutionException e) {
          if (failure == null) {
            failure = e.getCause();
          }
          break;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (failure instanceof RuntimeException e) {
      throw e;
    } else if (failure instanceof Error e) {
      throw e;
    } else if (failure != null) {
      throw new EvaluationException(
          EvaluationException.Kind.INTERNAL,
          "a gradient lane of " + source + " failed: " + failure,
          null,
          failure);
    }
    return out;
  }

  /**
   * Computes parts {@code first, first + step, ...} of {@code parts} contiguous, near-equal parts
   * of the batch with session {@code s}, into {@code out}'s rows of those parts (no other lane
   * writes them).
   */
  private void runParts(
      OrtSession s,
      int first,
      int step,
      int parts,
      ImageBatch x,
      int[] labels,
      int[] targets,
      LossHead head,
      LossGradient out) {
    int n = x.n();
    for (int p = first; p < parts; p += step) {
      int from = (int) ((long) n * p / parts);
      int cnt = (int) ((long) n * (p + 1) / parts) - from;
      copyRows(lossGradient(s, x, labels, targets, head, from, cnt), out, from, cnt);
    }
  }

  /** Zeroed logits, losses and input gradient for the images of {@code x}, to be filled by rows. */
  private LossGradient emptyResult(ImageBatch x) {
    return new LossGradient(
        new float[x.n() * numClasses], new float[x.n()], new float[x.data().length]);
  }

  /** Copies the first {@code cnt} rows of {@code part} to rows {@code [from, from+cnt)} of out. */
  private void copyRows(LossGradient part, LossGradient out, int from, int cnt) {
    int per = part.gradient().length / part.losses().length;
    System.arraycopy(part.logits(), 0, out.logits(), from * numClasses, cnt * numClasses);
    System.arraycopy(part.losses(), 0, out.losses(), from, cnt);
    System.arraycopy(part.gradient(), 0, out.gradient(), from * per, cnt * per);
  }

  /** One gradient session's call on images {@code [from, from+n)} of {@code x}. */
  private LossGradient lossGradient(
      OrtSession s, ImageBatch x, int[] labels, int[] targets, LossHead head, int from, int n) {
    int per = x.imageSize();
    if (fixedBatch == 0 && n < MIN_CALL_IMAGES) {
      LossGradient copies =
          lossGradient(
              s,
              padded(x, from, n, MIN_CALL_IMAGES),
              padded(labels, from, n, MIN_CALL_IMAGES),
              head.targeted() ? padded(targets, from, n, MIN_CALL_IMAGES) : null,
              head,
              0,
              MIN_CALL_IMAGES);
      LossGradient out =
          new LossGradient(new float[n * numClasses], new float[n], new float[n * per]);
      copyRows(copies, out, 0, n);
      return out;
    }
    List<OnnxTensor> owned = new ArrayList<>();
    try {
      Map<String, OnnxTensor> feed = new HashMap<>();
      OnnxTensor xt =
          OnnxTensor.createTensor(
              env,
              FloatBuffer.wrap(x.data(), from * per, n * per).slice(),
              new long[] {n, x.c(), x.h(), x.w()});
      owned.add(xt);
      feed.put(GradientGraphBuilder.INPUT, xt);
      OnnxTensor yt =
          OnnxTensor.createTensor(env, LongBuffer.wrap(toLong(labels, from, n)), new long[] {n});
      owned.add(yt);
      feed.put(GradientGraphBuilder.LABELS, yt);
      if (head.targeted()) {
        OnnxTensor tt =
            OnnxTensor.createTensor(env, LongBuffer.wrap(toLong(targets, from, n)), new long[] {n});
        owned.add(tt);
        feed.put(GradientGraphBuilder.TARGETS, tt);
      }
      try (OrtSession.Result r = s.run(feed)) {
        float[] z = floats(r, GradientGraphBuilder.LOGITS, "logits");
        float[] loss = floats(r, GradientGraphBuilder.LOSS, "loss");
        float[] grad = floats(r, GradientGraphBuilder.INPUT_GRAD, "input gradient");
        if (z.length != n * numClasses || loss.length != n || grad.length != n * per) {
          throw new EvaluationException(
              EvaluationException.Kind.INTERNAL,
              "gradient graph of "
                  + source
                  + " ("
                  + head.id()
                  + ") returned "
                  + z.length
                  + " logits, "
                  + loss.length
                  + " losses and "
                  + grad.length
                  + " gradient values for "
                  + n
                  + " images");
        }
        return new LossGradient(z, loss, grad);
      }
    } catch (OrtException e) {
      throw new EvaluationException(
          EvaluationException.Kind.INTERNAL,
          "ONNX Runtime failed computing the "
              + head.id()
              + " input gradient of "
              + source
              + " on "
              + n
              + " images: "
              + e.getMessage(),
          e.getCode().name(),
          e);
    } finally {
      for (OnnxTensor t : owned) {
        t.close();
      }
    }
  }

  /**
   * Why white-box attacks are impossible on this model, or null when they are possible: the graph
   * scan's control flow, rounding and undifferentiable ops ({@link GraphChecks#whiteBoxBlockers}),
   * else whatever stops the gradient builder from building the {@code ce} input-gradient graph (the
   * graph only; no session is loaded). Computed once.
   */
  public String whiteBoxImpossible() {
    checkOpen();
    if (whiteBox == null) {
      List<String> blockers = GraphChecks.whiteBoxBlockers(model);
      String reason = blockers.isEmpty() ? null : String.join("; ", blockers);
      if (reason == null) {
        try {
          new GradientGraphBuilder().build(model, LossHead.CE);
        } catch (dev.arat.onnx.OnnxModelException e) {
          reason = e.getMessage();
        }
      }
      whiteBox = reason == null ? "" : reason;
    }
    return whiteBox.isEmpty() ? null : whiteBox;
  }

  /**
   * Builds and loads the gradient sessions of {@code head} now rather than on the first gradient
   * call, so that an op the gradient builder cannot differentiate fails before any attack runs.
   *
   * @throws dev.arat.onnx.grad.UnsupportedOpException naming the first unsupported op and node
   * @throws EvaluationException if ONNX Runtime cannot load the gradient graph
   */
  public void prepare(LossHead head) {
    checkOpen();
    gradientSessions(head);
  }

  /**
   * Whether QuantizeLinear/DequantizeLinear pairs are differentiated straight-through (the default)
   * or exactly (zero gradient through the rounding; for diagnosing gradient masking). Takes effect
   * for gradient graphs built after the call.
   */
  public void setStraightThrough(boolean on) {
    this.straightThrough = on;
  }

  /**
   * The gradient sessions (one per lane) of {@code head}, creating them (and building its graph) on
   * first use.
   */
  private List<OrtSession> gradientSessions(LossHead head) {
    List<OrtSession> existing = gradientSessions.get(head);
    if (existing != null) {
      return existing;
    }
    GradientGraph gg = new GradientGraphBuilder(straightThrough).build(model, head);
    boolean softmaxReported =
        diagnostics.stream().anyMatch(d -> d.code().equals(Diagnostic.Code.SOFTMAX_OUTPUT.code()));
    for (GradientGraph.Note note : gg.notes()) {
      boolean aboutSoftmax =
          note.code() == GradientGraph.NoteCode.FINAL_SOFTMAX
              || note.code() == GradientGraph.NoteCode.FINAL_LOG_SOFTMAX;
      // a fixed batch is handled here (batches of exactly that size) and reported as ARAT-D018
      boolean aboutFixedBatch = fixedBatch > 0 && note.code() == GradientGraph.NoteCode.FIXED_BATCH;
      if (!(aboutSoftmax && softmaxReported) && !aboutFixedBatch) {
        diagnostics.add(Diagnostic.Code.GRADIENT_GRAPH.of("(" + head.id() + ") " + note.message()));
      }
    }
    byte[] graph = gg.toByteArray();
    List<OrtSession> sessions = new ArrayList<>();
    try {
      for (OrtSession.SessionOptions lane : laneOptions) {
        sessions.add(env.createSession(graph, lane));
      }
    } catch (OrtException e) {
      for (OrtSession s : sessions) {
        try {
          s.close();
        } catch (OrtException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw new EvaluationException(
          EvaluationException.Kind.INTERNAL,
          "ONNX Runtime cannot load the "
              + head.id()
              + " input-gradient graph of "
              + source
              + ": "
              + e.getMessage(),
          e.getCode().name(),
          e);
    }
    gradientSessions.put(head, List.copyOf(sessions));
    return gradientSessions.get(head);
  }

  /** Closes {@code main} and every distinct lane option that is not {@code main}. */
  private static void closeOptions(
      OrtSession.SessionOptions main, List<OrtSession.SessionOptions> lanes) {
    if (lanes != null) {
      Set<OrtSession.SessionOptions> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
      distinct.addAll(lanes);
      for (OrtSession.SessionOptions l : distinct) {
        if (l != main) {
          l.close();
        }
      }
    }
    if (main != null) {
      main.close();
    }
  }

  /** The threads that run lanes 1.. of a gradient call (daemons, created on first use). */
  private ExecutorService laneWorkers() {
    if (laneWorkers == null) {
      AtomicInteger count = new AtomicInteger();
      ThreadPoolExecutor pool =
          new ThreadPoolExecutor(
              laneOptions.size() - 1,
              laneOptions.size() - 1,
              30,
              TimeUnit.SECONDS,
              new LinkedBlockingQueue<>(),
              r -> {
                Thread t = new Thread(r, "arat-gradient-lane-" + count.incrementAndGet());
                t.setDaemon(true);
                return t;
              });
      pool.allowCoreThreadTimeOut(true); // an unclosed classifier keeps no idle threads
      laneWorkers = pool;
    }
    return laneWorkers;
  }

  private float[] floats(OrtSession.Result r, String name, String what) {
    OnnxValue v =
        r.get(name)
            .orElseThrow(
                () ->
                    new EvaluationException(
                        EvaluationException.Kind.INTERNAL,
                        source + ": ONNX Runtime returned no '" + name + "' (" + what + ")"));
    if (!(v instanceof OnnxTensor t) || t.getInfo().type != ai.onnxruntime.OnnxJavaType.FLOAT) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          source
              + ": output '"
              + name
              + "' ("
              + what
              + ") must be a float32 tensor, is "
              + v.getInfo());
    }
    FloatBuffer fb = t.getFloatBuffer();
    float[] out = new float[fb.remaining()];
    fb.get(out);
    return out;
  }

  private void checkGeometry(ImageBatch x) {
    if (x.c() != channels || x.h() != height || x.w() != width) {
      throw new IllegalArgumentException(
          source
              + " takes images of "
              + channels
              + "x"
              + height
              + "x"
              + width
              + " (CxHxW), got "
              + x.c()
              + "x"
              + x.h()
              + "x"
              + x.w());
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException(source + ": classifier used after close()");
    }
  }

  /**
   * Images {@code [from, from+cnt)} of {@code x} as a batch of exactly {@code size} (a fixed batch
   * or {@link #MIN_CALL_IMAGES}), filled up with copies of the last one (each sample's outputs and
   * input gradient depend only on itself, so the copies are computed and dropped).
   */
  private static ImageBatch padded(ImageBatch x, int from, int cnt, int size) {
    int per = x.imageSize();
    float[] d = new float[size * per];
    System.arraycopy(x.data(), from * per, d, 0, cnt * per);
    for (int i = cnt; i < size; i++) {
      System.arraycopy(x.data(), (from + cnt - 1) * per, d, i * per, per);
    }
    return new ImageBatch(d, size, x.c(), x.h(), x.w());
  }

  /**
   * Labels or targets {@code [from, from+cnt)} padded like {@link #padded(ImageBatch, int, int,
   * int)}.
   */
  private static int[] padded(int[] a, int from, int cnt, int size) {
    int[] out = new int[size];
    for (int i = 0; i < size; i++) {
      out[i] = a[from + Math.min(i, cnt - 1)];
    }
    return out;
  }

  private static long[] shape(ImageBatch x) {
    return new long[] {x.n(), x.c(), x.h(), x.w()};
  }

  private static long[] toLong(int[] a, int from, int n) {
    long[] out = new long[n];
    for (int i = 0; i < n; i++) {
      out[i] = a[from + i];
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
    if (laneWorkers != null) {
      laneWorkers.shutdown(); // idle: every call waits for its lanes
    }
    for (List<OrtSession> sessions : gradientSessions.values()) {
      for (OrtSession s : sessions) {
        try {
          s.close();
        } catch (OrtException e) {
          errors.add(e);
        }
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
    closeOptions(options, laneOptions);
    if (!errors.isEmpty()) {
      throw new EvaluationException(
          EvaluationException.Kind.INTERNAL,
          "closing the ONNX Runtime sessions of "
              + source
              + " failed: "
              + errors.get(0).getMessage(),
          errors.get(0).getCode().name(),
          errors.get(0));
    }
  }
}
