package dev.arat.exporter;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.specs.ActivationShape;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.LayerSpec;
import dev.arat.specs.Specs;
import dev.arat.specs.Tensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a checkpoint's network as a plain ONNX classifier.
 *
 * <p>The exported graph takes {@code input}: float32 {@code (N,C,H,W)} pixels in {@code [0,1]} with
 * a symbolic batch axis, and returns {@code logits}: float32 {@code (N,K)}. It computes the
 * in-network normalisation ({@code Sub}, {@code Div}), then the layers of the {@link
 * ArchitectureSpec} with one BN branch (by default the adversarial one, the deployed model). A
 * BatchNorm directly after a Conv or Linear (in the same layer list) is folded into that layer's
 * weights and bias; any other BatchNorm (the pre-activation BNs of PreAct-ResNet and WideResNet,
 * which follow an addition or the input) becomes an inference-mode {@code BatchNormalization} node.
 * A {@link LayerSpec.Residual} becomes {@code Add(body(pre(x)), shortcut(s))} with {@code s =
 * pre(x)} or {@code x} as its {@code shortcutFromPre} says and an empty shortcut the identity. The
 * predictors and the other BN branch are dropped. IR version 8, opset 13, so Debian's onnx 1.12
 * checker accepts the file.
 */
public final class OnnxExporter {
  /** The opset written. */
  public static final int OPSET = 13;

  /** Name of the graph input. */
  public static final String INPUT = "input";

  /** Name of the graph output. */
  public static final String OUTPUT = "logits";

  private final BnBranch branch;
  private final boolean foldBatchNorm;

  /** An exporter of the given branch; {@code foldBatchNorm=false} keeps BN nodes (for tests). */
  public OnnxExporter(BnBranch branch, boolean foldBatchNorm) {
    this.branch = branch;
    this.foldBatchNorm = foldBatchNorm;
  }

  /** The default exporter: adversarial branch, BN folded. */
  public OnnxExporter() {
    this(BnBranch.ADV, true);
  }

  /**
   * Builds the ONNX model of a checkpoint.
   *
   * @param checkpoint the trained network
   * @param metadata provenance entries for {@code metadata_props} (added to the exporter's own)
   * @throws ExportException if a weight is missing, has the wrong shape or is not finite
   */
  public ModelProto export(Checkpoint checkpoint, Map<String, String> metadata) {
    ArchitectureSpec arch = checkpoint.architecture();
    Writer w = new Writer(arch, checkpoint.weights());
    GraphBuilder g = w.g;
    String x = g.imageInput(INPUT, arch.channels(), arch.height(), arch.width());
    long[] cshape = {1, arch.channels(), 1, 1};
    x = g.node(Op.SUB, x, g.floatInitializer("input_mean", arch.mean().clone(), cshape));
    x = g.node(Op.DIV, x, g.floatInitializer("input_std", arch.std().clone(), cshape));
    Flow out = w.layers(arch.layers(), new Flow(arch.inputShape(), x));
    if (!out.shape().equals(new ActivationShape.Flat(arch.numClasses()))) {
      throw new ExportException(
          "the network ends with "
              + out.shape().describe()
              + ", expected "
              + arch.numClasses()
              + " logits");
    }
    g.output(out.tensor, OUTPUT, Tensors.FLOAT, GraphBuilder.BATCH, arch.numClasses());
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("arat.format", "1");
    meta.put("arat.architecture", Specs.toJson(arch).replaceAll("\\s+", ""));
    meta.put("arat.architecture_name", arch.name());
    meta.put("arat.bn_branch", branch.key());
    meta.put(
        "arat.deployed_model",
        branch == BnBranch.ADV
            ? "yes: adversarial-BN branch"
            : "NO: clean-BN branch, exported for analysis only");
    meta.put("arat.training_method", checkpoint.recipe().method());
    var attack = checkpoint.recipe().attack();
    meta.put("arat.threat_model", attack.norm() + " eps=" + attack.epsilon());
    meta.put("arat.dataset", checkpoint.recipe().data().dataset());
    meta.put("arat.epoch", Integer.toString(checkpoint.state().epoch()));
    meta.put("arat.seed", Long.toString(checkpoint.recipe().seed()));
    // provenance and the caller's entries in key order: the same checkpoint must give the same
    // bytes in every run, whatever the iteration order of the maps handed in (Map.of has none)
    new TreeMap<>(checkpoint.state().provenance()).forEach((k, v) -> meta.put("arat." + k, v));
    meta.putAll(new TreeMap<>(metadata));
    meta.forEach(g::metadata);
    g.docString(
        "arat export of "
            + arch.name()
            + " ("
            + branch.key()
            + " BN branch, BN "
            + (foldBatchNorm ? "folded" : "kept")
            + ")");
    return g.build(OPSET);
  }

  /**
   * The activation between two layers: its shape and the name of the ONNX tensor holding it.
   *
   * @param shape the per-sample shape
   * @param tensor the graph value's name
   */
  private record Flow(ActivationShape shape, String tensor) {
    Flow to(LayerSpec layer, String y) {
      try {
        return new Flow(layer.outputShape(shape), y);
      } catch (IllegalArgumentException e) {
        throw new ExportException(e.getMessage());
      }
    }

    /** The output of {@code layer} when it keeps the shape (so it cannot fail). */
    Flow at(String y) {
      return new Flow(shape, y);
    }
  }

  /**
   * A layer's input while writing: the activation, and the BatchNorm right after the layer when the
   * exporter folds it into this (conv or linear) layer, else null.
   */
  private record Input(Flow flow, LayerSpec.BatchNorm foldedBn) {}

  private final class Writer implements LayerSpec.Visitor<Input, Flow> {
    final GraphBuilder g;
    final ArchitectureSpec arch;
    final Map<String, Tensor> weights;

    Writer(ArchitectureSpec arch, Map<String, Tensor> weights) {
      this.g = new GraphBuilder(arch.name());
      this.arch = arch;
      this.weights = weights;
    }

    Flow layers(List<LayerSpec> layers, Flow in) {
      Flow s = in;
      for (int i = 0; i < layers.size(); i++) {
        LayerSpec l = layers.get(i);
        LayerSpec next = i + 1 < layers.size() ? layers.get(i + 1) : null;
        LayerSpec.BatchNorm fold =
            foldBatchNorm && absorbsBatchNorm(l) && next instanceof LayerSpec.BatchNorm bn
                ? bn
                : null;
        s = l.accept(this, new Input(s, fold));
        i += fold != null ? 1 : 0;
      }
      return s;
    }

    /** Whether a BatchNorm right after {@code l} can be folded into {@code l}'s weights. */
    boolean absorbsBatchNorm(LayerSpec l) {
      return l instanceof LayerSpec.Conv || l instanceof LayerSpec.Linear;
    }

    @Override
    public Flow relu(LayerSpec.Relu r, Input in) {
      return in.flow().to(r, g.node(Op.RELU, in.flow().tensor()));
    }

    @Override
    public Flow maxPool(LayerSpec.MaxPool p, Input in) {
      Flow s = in.flow();
      Flow out = s.to(p, null);
      String y =
          g.node(
              Op.MAX_POOL,
              List.of(s.tensor()),
              Map.of(
                  "kernel_shape", new long[] {p.kernel(), p.kernel()},
                  "strides", new long[] {p.stride(), p.stride()}));
      return out.at(y);
    }

    @Override
    public Flow globalAvgPool(LayerSpec.GlobalAvgPool p, Input in) {
      Flow out = in.flow().to(p, null);
      return out.at(g.node(Op.GLOBAL_AVERAGE_POOL, in.flow().tensor()));
    }

    @Override
    public Flow flatten(LayerSpec.Flatten f, Input in) {
      return in.flow().to(f, g.node(Op.FLATTEN, List.of(in.flow().tensor()), Map.of("axis", 1L)));
    }

    @Override
    public Flow residual(LayerSpec.Residual r, Input in) {
      Flow s = in.flow();
      Flow out = s.to(r, null); // checks that body and shortcut agree
      Flow pre = layers(r.pre(), s);
      Flow body = layers(r.body(), pre);
      Flow from = r.shortcutFromPre() ? pre : s;
      Flow shortcut = r.shortcut().isEmpty() ? from : layers(r.shortcut(), from);
      return out.at(g.node(Op.ADD, body.tensor(), shortcut.tensor()));
    }

    @Override
    public Flow conv(LayerSpec.Conv c, Input in) {
      Flow s = in.flow();
      LayerSpec.BatchNorm bn = in.foldedBn();
      Flow out = s.to(c, null);
      int inC = s.shape().channels();
      int k = c.kernel();
      float[] wt = weight(c.name() + ".weight", c.outChannels(), inC, k, k);
      float[] b =
          c.bias() ? weight(c.name() + ".bias", c.outChannels()) : new float[c.outChannels()];
      if (bn != null) {
        foldInto(bn, wt, b, c.outChannels());
      }
      String wn = g.floatInitializer(c.name() + ".weight", wt, c.outChannels(), inC, k, k);
      List<String> inputs =
          (c.bias() || bn != null)
              ? List.of(s.tensor(), wn, g.floatInitializer(c.name() + ".bias", b, c.outChannels()))
              : List.of(s.tensor(), wn);
      int p = c.padding();
      String y =
          g.node(
              Op.CONV,
              inputs,
              Map.of(
                  "kernel_shape", new long[] {k, k},
                  "strides", new long[] {c.stride(), c.stride()},
                  "pads", new long[] {p, p, p, p}));
      return out.at(y);
    }

    @Override
    public Flow linear(LayerSpec.Linear lin, Input in) {
      Flow s = in.flow();
      LayerSpec.BatchNorm bn = in.foldedBn();
      Flow out = s.to(lin, null);
      int f = s.shape().channels();
      float[] wt = weight(lin.name() + ".weight", lin.outFeatures(), f);
      float[] b =
          lin.bias()
              ? weight(lin.name() + ".bias", lin.outFeatures())
              : new float[lin.outFeatures()];
      if (bn != null) {
        foldInto(bn, wt, b, lin.outFeatures());
      }
      String y =
          g.node(
              Op.GEMM,
              List.of(
                  s.tensor(),
                  g.floatInitializer(lin.name() + ".weight", wt, lin.outFeatures(), f),
                  g.floatInitializer(lin.name() + ".bias", b, lin.outFeatures())),
              Map.of("transB", 1L));
      return out.at(y);
    }

    @Override
    public Flow batchNorm(LayerSpec.BatchNorm bn, Input in) {
      Flow s = in.flow();
      int c = s.shape().channels();
      String p = bn.name() + "." + branch.key();
      String y =
          g.node(
              Op.BATCH_NORMALIZATION,
              List.of(
                  s.tensor(),
                  g.floatInitializer(p + ".weight", weight(p + ".weight", c), c),
                  g.floatInitializer(p + ".bias", weight(p + ".bias", c), c),
                  g.floatInitializer(p + ".running_mean", weight(p + ".running_mean", c), c),
                  g.floatInitializer(p + ".running_var", weight(p + ".running_var", c), c)),
              Map.of("epsilon", (float) arch.bnEpsilon()));
      return s.to(bn, y);
    }

    /**
     * Folds inference BN into the preceding layer: per output channel o, {@code scale = gamma /
     * sqrt(var + eps)}, {@code W[o] *= scale}, {@code b[o] = (b[o] - mean) * scale + beta}.
     * Computed in double precision.
     */
    void foldInto(LayerSpec.BatchNorm bn, float[] wt, float[] b, int out) {
      String p = bn.name() + "." + branch.key();
      float[] gamma = weight(p + ".weight", out);
      float[] beta = weight(p + ".bias", out);
      float[] mean = weight(p + ".running_mean", out);
      float[] var = weight(p + ".running_var", out);
      int per = wt.length / out;
      for (int o = 0; o < out; o++) {
        double scale = gamma[o] / Math.sqrt(var[o] + arch.bnEpsilon());
        for (int j = 0; j < per; j++) {
          wt[o * per + j] = (float) (wt[o * per + j] * scale);
        }
        b[o] = (float) ((b[o] - mean[o]) * scale + beta[o]);
      }
    }

    float[] weight(String name, long... shape) {
      Tensor t = weights.get(name);
      if (t == null) {
        throw new ExportException(
            "checkpoint has no weight '"
                + name
                + "'"
                + (name.contains("." + branch.key() + ".")
                    ? " (is this a split-BN checkpoint with a '" + branch.key() + "' branch?)"
                    : ""));
      }
      if (!Arrays.equals(t.shape(), shape)) {
        throw new ExportException(
            "weight '"
                + name
                + "' has shape "
                + Arrays.toString(t.shape())
                + ", the architecture needs "
                + Arrays.toString(shape));
      }
      float[] d = t.data().clone();
      for (float v : d) {
        if (!Float.isFinite(v)) {
          throw new ExportException("weight '" + name + "' contains NaN or infinite values");
        }
      }
      return d;
    }
  }
}
