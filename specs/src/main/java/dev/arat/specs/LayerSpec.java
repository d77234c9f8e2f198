package dev.arat.specs;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.List;

/**
 * One layer of a network described as data. The trainer builds DJL blocks from it and the exporter
 * writes ONNX nodes from it; nobody reverse-engineers a block tree.
 *
 * <p>Every layer has a {@code name} unique in its network. Weights are stored under names derived
 * from it (see {@link ArchitectureSpec} for the naming contract). Activations flow as float32
 * {@code (N,C,H,W)} until {@link Flatten}, then {@code (N,F)}.
 *
 * <p>Code that treats layers differently by type goes through a {@link Visitor}: adding a layer
 * type adds a {@code Visitor} method, so every place that does not handle the new type stops
 * compiling (the trainer's weight creation and forward pass, the exporter, {@link #outputShape})
 * instead of failing at run time.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = LayerSpec.Conv.class, name = "conv"),
  @JsonSubTypes.Type(value = LayerSpec.BatchNorm.class, name = "batch_norm"),
  @JsonSubTypes.Type(value = LayerSpec.Relu.class, name = "relu"),
  @JsonSubTypes.Type(value = LayerSpec.MaxPool.class, name = "max_pool"),
  @JsonSubTypes.Type(value = LayerSpec.GlobalAvgPool.class, name = "global_avg_pool"),
  @JsonSubTypes.Type(value = LayerSpec.Flatten.class, name = "flatten"),
  @JsonSubTypes.Type(value = LayerSpec.Linear.class, name = "linear"),
  @JsonSubTypes.Type(value = LayerSpec.Residual.class, name = "residual")
})
public sealed interface LayerSpec {
  /** The layer's unique name; weight keys start with it. */
  String name();

  /**
   * Calls the {@code visitor} method for this layer's type.
   *
   * @param visitor what to do per layer type
   * @param input the visitor's input for this layer (an activation shape, a tensor, ...)
   * @return what the visitor method returns
   */
  <I, R> R accept(Visitor<I, R> visitor, I input);

  /**
   * This layer's output shape for an input of shape {@code in}: the one place that knows the
   * output-size formulas (convolution {@code (H + 2p - k) / s + 1}, pooling {@code (H - k) / s +
   * 1}, ...).
   *
   * @throws IllegalArgumentException naming the layer when the input does not fit it (too small for
   *     a kernel, spatial where flat is needed or the reverse, a residual unit whose branches
   *     disagree)
   */
  default ActivationShape outputShape(ActivationShape in) {
    return accept(ShapeRule.INSTANCE, in);
  }

  /**
   * The output shape of {@code layers} applied in order to an input of shape {@code in} ({@code in}
   * itself for an empty list).
   *
   * @throws IllegalArgumentException as {@link #outputShape}
   */
  static ActivationShape outputShape(List<LayerSpec> layers, ActivationShape in) {
    ActivationShape s = in;
    for (LayerSpec l : layers) {
      s = l.outputShape(s);
    }
    return s;
  }

  /**
   * One method per layer type, each given the layer and an input of type {@code I}.
   *
   * @param <I> what each call gets besides the layer
   * @param <R> what each call returns
   */
  interface Visitor<I, R> {
    /** A convolution. */
    R conv(Conv layer, I input);

    /** A batch normalisation. */
    R batchNorm(BatchNorm layer, I input);

    /** A ReLU. */
    R relu(Relu layer, I input);

    /** A max pooling. */
    R maxPool(MaxPool layer, I input);

    /** A global average pooling. */
    R globalAvgPool(GlobalAvgPool layer, I input);

    /** A flatten. */
    R flatten(Flatten layer, I input);

    /** A fully connected layer. */
    R linear(Linear layer, I input);

    /** A residual unit (the visitor walks its children itself). */
    R residual(Residual layer, I input);
  }

  /**
   * 2-D convolution without groups. Weights: {@code name.weight} of shape {@code (out, in, k, k)},
   * and {@code name.bias} of shape {@code (out)} when {@code bias}.
   */
  record Conv(String name, int outChannels, int kernel, int stride, int padding, boolean bias)
      implements LayerSpec {
    /** Validates sizes. */
    public Conv {
      positive(outChannels, "out_channels");
      positive(kernel, "kernel");
      positive(stride, "stride");
      if (padding < 0) {
        throw new IllegalArgumentException("padding: must be >= 0, was " + padding);
      }
    }

    @Override
    public <I, R> R accept(Visitor<I, R> visitor, I input) {
      return visitor.conv(this, input);
    }
  }

  /**
   * Batch normalisation over channels (axis 1), split under split-BN into an {@code adv} and a
   * {@code clean} branch. Weights per branch {@code b}: {@code name.b.weight} (gamma), {@code
   * name.b.bias} (beta), {@code name.b.running_mean}, {@code name.b.running_var}, each of shape
   * {@code (C)}. Without split-BN only the {@code adv} branch exists.
   */
  record BatchNorm(String name) implements LayerSpec {
    @Override
    public <I, R> R accept(Visitor<I, R> visitor, I input) {
      return visitor.batchNorm(this, input);
    }
  }

  /** Rectified linear unit. */
  record Relu(String name) implements LayerSpec {
    @Override
    public <I, R> R accept(Visitor<I, R> visitor, I input) {
      return visitor.relu(this, input);
    }
  }

  /** Max pooling with a square window, no padding. */
  record MaxPool(String name, int kernel, int stride) implements LayerSpec {
    /** Validates sizes. */
    public MaxPool {
      positive(kernel, "kernel");
      positive(stride, "stride");
    }

    @Override
    public <I, R> R accept(Visitor<I, R> visitor, I input) {
      return visitor.maxPool(this, input);
    }
  }

  /** Global average pooling {@code (N,C,H,W) -> (N,C,1,1)}. */
  record GlobalAvgPool(String name) implements LayerSpec {
    @Override
    public <I, R> R accept(Visitor<I, R> visitor, I input) {
      return visitor.globalAvgPool(this, input);
    }
  }

  /** Flattens {@code (N,C,H,W) -> (N,C*H*W)}. */
  record Flatten(String name) implements LayerSpec {
    @Override
    public <I, R> R accept(Visitor<I, R> visitor, I input) {
      return visitor.flatten(this, input);
    }
  }

  /**
   * Fully connected layer. Weights: {@code name.weight} of shape {@code (out, in)} and {@code
   * name.bias} of shape {@code (out)} when {@code bias}.
   */
  record Linear(String name, int outFeatures, boolean bias) implements LayerSpec {
    /** Validates sizes. */
    public Linear {
      positive(outFeatures, "out_features");
    }

    @Override
    public <I, R> R accept(Visitor<I, R> visitor, I input) {
      return visitor.linear(this, input);
    }
  }

  /**
   * A residual unit. With input {@code x}:
   *
   * <pre>
   *   p        = pre(x)                       (identity when {@code pre} is empty)
   *   s_in     = shortcutFromPre ? p : x
   *   output   = body(p) + shortcut(s_in)     (an empty shortcut is the identity)
   * </pre>
   *
   * <p>The plain form ({@code pre} empty, {@code shortcutFromPre=false}) is the classic {@code
   * body(x) + shortcut(x)} of a post-activation ResNet block. The pre-activation blocks of
   * PreAct-ResNet and WideResNet put their first BN-ReLU in {@code pre}: the body always reads the
   * pre-activated tensor, a projection shortcut reads it too ({@code shortcutFromPre=true}), and an
   * identity shortcut reads the raw input ({@code shortcutFromPre=false}). No activation follows
   * implicitly; add a {@link Relu} after the unit where the architecture has one.
   *
   * <p>In JSON/YAML {@code pre} and {@code shortcut_from_pre} are optional (absent: empty and
   * false) and are omitted when they have those values, so specs written before they existed read
   * and write unchanged.
   *
   * @param name the unit's name (no weights of its own)
   * @param pre layers applied to the input before it splits; may be empty
   * @param body the residual branch, applied to {@code pre(x)}; not empty
   * @param shortcut the skip branch; empty for the identity
   * @param shortcutFromPre whether the shortcut reads {@code pre(x)} (true) or {@code x} (false);
   *     null reads as false, so the accessor never returns null
   */
  record Residual(
      String name,
      @JsonInclude(JsonInclude.Include.NON_EMPTY) List<LayerSpec> pre,
      List<LayerSpec> body,
      List<LayerSpec> shortcut,
      @JsonInclude(JsonInclude.Include.NON_DEFAULT) Boolean shortcutFromPre)
      implements LayerSpec {
    /** Copies the lists and applies the defaults. */
    public Residual {
      pre = pre == null ? List.of() : List.copyOf(pre);
      body = body == null ? List.of() : List.copyOf(body);
      shortcut = shortcut == null ? List.of() : List.copyOf(shortcut);
      shortcutFromPre = shortcutFromPre != null && shortcutFromPre;
      if (body.isEmpty()) {
        throw new IllegalArgumentException("body: must not be empty");
      }
    }

    /** The plain unit {@code body(x) + shortcut(x)} (no {@code pre}). */
    public Residual(String name, List<LayerSpec> body, List<LayerSpec> shortcut) {
      this(name, List.of(), body, shortcut, false);
    }

    @Override
    public <I, R> R accept(Visitor<I, R> visitor, I input) {
      return visitor.residual(this, input);
    }
  }

  private static void positive(int value, String field) {
    if (value <= 0) {
      throw new IllegalArgumentException(field + ": must be > 0, was " + value);
    }
  }
}
