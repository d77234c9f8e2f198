package dev.arat.exporter;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.LayerSpec;
import dev.arat.specs.Specs;
import dev.arat.specs.Tensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
 * pre(x)} or {@code x} as its {@code shortcutFromPre} says and an empty shortcut the identity. The predictors and the other
 * BN branch are dropped. IR version 8, opset 13, so Debian's onnx 1.12 checker accepts the file.
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
    Shape out = w.layers(arch.layers(), x, new Shape(arch.channels(), arch.height(), arch.width(), 0));
    if (out.features() != arch.numClasses()) {
      throw new ExportException("the network ends with " + out.describe() + ", expected "
          + arch.numClasses() + " logits");
    }
    g.output(out.tensor, OUTPUT, Tensors.FLOAT, GraphBuilder.BATCH, arch.numClasses());
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put("arat.format", "1");
    meta.put("arat.architecture", Specs.toJson(arch).replaceAll("\\s+", ""));
    meta.put("arat.architecture_name", arch.name());
    meta.put("arat.bn_branch", branch.key());
    meta.put("arat.deployed_model", branch == BnBranch.ADV
        ? "yes: adversarial-BN branch" : "NO: clean-BN branch, exported for analysis only");
    meta.put("arat.training_method", checkpoint.recipe().method());
    var attack = checkpoint.recipe().attack();
    meta.put("arat.threat_model", attack.norm() + " eps=" + attack.epsilon());
    meta.put("arat.dataset", checkpoint.recipe().data().dataset());
    meta.put("arat.epoch", Integer.toString(checkpoint.state().epoch()));
    meta.put("arat.seed", Long.toString(checkpoint.recipe().seed()));
    checkpoint.state().provenance().forEach((k, v) -> meta.put("arat." + k, v));
    meta.putAll(metadata);
    meta.forEach(g::metadata);
    g.docString("arat export of " + arch.name() + " (" + branch.key() + " BN branch, BN "
        + (foldBatchNorm ? "folded" : "kept") + ")");
    return g.build(OPSET);
  }

  /** Activation geometry while walking the layers: (C,H,W), or features F after Flatten. */
  private record Shape(int c, int h, int w, int f, String tensor) {
    Shape(int c, int h, int w, int f) {
      this(c, h, w, f, null);
    }

    boolean flat() {
      return f > 0;
    }

    int features() {
      return flat() ? f : -1;
    }

    Shape at(String t) {
      return new Shape(c, h, w, f, t);
    }

    String describe() {
      return flat() ? "(N," + f + ")" : "(N," + c + "," + h + "," + w + ")";
    }
  }

  private final class Writer {
    final GraphBuilder g;
    final ArchitectureSpec arch;
    final Map<String, Tensor> weights;

    Writer(ArchitectureSpec arch, Map<String, Tensor> weights) {
      this.g = new GraphBuilder(arch.name());
      this.arch = arch;
      this.weights = weights;
    }

    Shape layers(List<LayerSpec> layers, String x, Shape in) {
      Shape s = in.at(x);
      for (int i = 0; i < layers.size(); i++) {
        LayerSpec l = layers.get(i);
        LayerSpec next = i + 1 < layers.size() ? layers.get(i + 1) : null;
        boolean fold = foldBatchNorm && next instanceof LayerSpec.BatchNorm;
        if (l instanceof LayerSpec.Conv c) {
          s = conv(c, s, fold ? (LayerSpec.BatchNorm) next : null);
          i += fold ? 1 : 0;
        } else if (l instanceof LayerSpec.Linear lin) {
          s = linear(lin, s, fold ? (LayerSpec.BatchNorm) next : null);
          i += fold ? 1 : 0;
        } else if (l instanceof LayerSpec.BatchNorm bn) {
          s = batchNorm(bn, s);
        } else if (l instanceof LayerSpec.Relu) {
          s = s.at(g.node(Op.RELU, s.tensor));
        } else if (l instanceof LayerSpec.MaxPool p) {
          requireSpatial(s, p);
          String y = g.node(Op.MAX_POOL, List.of(s.tensor), Map.of(
              "kernel_shape", new long[] {p.kernel(), p.kernel()},
              "strides", new long[] {p.stride(), p.stride()}));
          s = new Shape(s.c, (s.h - p.kernel()) / p.stride() + 1, (s.w - p.kernel()) / p.stride() + 1, 0, y);
        } else if (l instanceof LayerSpec.GlobalAvgPool p) {
          requireSpatial(s, p);
          s = new Shape(s.c, 1, 1, 0, g.node(Op.GLOBAL_AVERAGE_POOL, s.tensor));
        } else if (l instanceof LayerSpec.Flatten) {
          String y = g.node(Op.FLATTEN, List.of(s.tensor), Map.of("axis", 1L));
          s = s.flat() ? s.at(y) : new Shape(0, 0, 0, s.c * s.h * s.w, y);
        } else if (l instanceof LayerSpec.Residual r) {
          Shape pre = layers(r.pre(), s.tensor, s);
          Shape body = layers(r.body(), pre.tensor, pre);
          Shape from = r.shortcutFromPre() ? pre : s;
          Shape shortcut = r.shortcut().isEmpty() ? from : layers(r.shortcut(), from.tensor, from);
          if (!body.describe().equals(shortcut.describe())) {
            throw new ExportException(r.name() + ": body gives " + body.describe()
                + " but the shortcut gives " + shortcut.describe());
          }
          s = body.at(g.node(Op.ADD, body.tensor, shortcut.tensor));
        } else {
          throw new ExportException("layer type not exportable: " + l);
        }
      }
      return s;
    }

    Shape conv(LayerSpec.Conv c, Shape s, LayerSpec.BatchNorm bn) {
      requireSpatial(s, c);
      int k = c.kernel();
      float[] wt = weight(c.name() + ".weight", c.outChannels(), s.c, k, k);
      float[] b = c.bias() ? weight(c.name() + ".bias", c.outChannels()) : new float[c.outChannels()];
      if (bn != null) {
        foldInto(bn, wt, b, c.outChannels());
      }
      String wn = g.floatInitializer(c.name() + ".weight", wt, c.outChannels(), s.c, k, k);
      List<String> inputs = (c.bias() || bn != null)
          ? List.of(s.tensor, wn, g.floatInitializer(c.name() + ".bias", b, c.outChannels()))
          : List.of(s.tensor, wn);
      int p = c.padding();
      String y = g.node(Op.CONV, inputs, Map.of(
          "kernel_shape", new long[] {k, k},
          "strides", new long[] {c.stride(), c.stride()},
          "pads", new long[] {p, p, p, p}));
      int h = (s.h + 2 * p - k) / c.stride() + 1;
      int w = (s.w + 2 * p - k) / c.stride() + 1;
      if (h <= 0 || w <= 0) {
        throw new ExportException(c.name() + ": input " + s.describe() + " is too small for the kernel");
      }
      return new Shape(c.outChannels(), h, w, 0, y);
    }

    Shape linear(LayerSpec.Linear lin, Shape s, LayerSpec.BatchNorm bn) {
      if (!s.flat()) {
        throw new ExportException(lin.name() + ": linear layer needs a flattened input, got " + s.describe());
      }
      float[] wt = weight(lin.name() + ".weight", lin.outFeatures(), s.f);
      float[] b = lin.bias() ? weight(lin.name() + ".bias", lin.outFeatures()) : new float[lin.outFeatures()];
      if (bn != null) {
        foldInto(bn, wt, b, lin.outFeatures());
      }
      String y = g.node(Op.GEMM, List.of(s.tensor,
              g.floatInitializer(lin.name() + ".weight", wt, lin.outFeatures(), s.f),
              g.floatInitializer(lin.name() + ".bias", b, lin.outFeatures())),
          Map.of("transB", 1L));
      return new Shape(0, 0, 0, lin.outFeatures(), y);
    }

    Shape batchNorm(LayerSpec.BatchNorm bn, Shape s) {
      int c = s.flat() ? s.f : s.c;
      String p = bn.name() + "." + branch.key();
      String y = g.node(Op.BATCH_NORMALIZATION, List.of(s.tensor,
              g.floatInitializer(p + ".weight", weight(p + ".weight", c), c),
              g.floatInitializer(p + ".bias", weight(p + ".bias", c), c),
              g.floatInitializer(p + ".running_mean", weight(p + ".running_mean", c), c),
              g.floatInitializer(p + ".running_var", weight(p + ".running_var", c), c)),
          Map.of("epsilon", (float) arch.bnEpsilon()));
      return s.at(y);
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
        throw new ExportException("checkpoint has no weight '" + name + "'"
            + (name.contains("." + branch.key() + ".") ? " (is this a split-BN checkpoint with a '"
                + branch.key() + "' branch?)" : ""));
      }
      if (!Arrays.equals(t.shape(), shape)) {
        throw new ExportException("weight '" + name + "' has shape " + Arrays.toString(t.shape())
            + ", the architecture needs " + Arrays.toString(shape));
      }
      float[] d = t.data().clone();
      for (float v : d) {
        if (!Float.isFinite(v)) {
          throw new ExportException("weight '" + name + "' contains NaN or infinite values");
        }
      }
      return d;
    }

    void requireSpatial(Shape s, LayerSpec l) {
      if (s.flat()) {
        throw new ExportException(l.name() + ": needs an (N,C,H,W) input, got " + s.describe());
      }
    }
  }
}
