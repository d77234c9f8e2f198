package dev.arat.onnx.grad;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.grad.GradientGraph.NoteCode;
import dev.arat.specs.LossHead;
import java.util.SortedSet;

/**
 * Builds the input-gradient graph of an ONNX classifier: its forward graph plus the reverse-mode
 * derivative of a {@link LossHead} with respect to the input, as ONNX nodes, so that one ONNX
 * Runtime call returns {@code logits}, {@code loss} and {@code input_grad} (see {@link
 * GradientGraph} for the exact inputs and outputs).
 *
 * <h2>What is differentiated</h2>
 *
 * <p>The forward graph is sorted topologically and pruned to the nodes the logits need. Tensors
 * that depend on the input get gradients; initializers, constants and shape computations ({@code
 * Shape}, {@code Size}, comparisons, {@code ArgMax}...) do not. A tensor read by several nodes gets
 * the sum of their gradient contributions. All ops are taken with inference semantics
 * (BatchNormalization with running statistics, Dropout as identity). Supported ops on the
 * input-to-logits path: {@link #supportedOps()}; any other op there raises {@link
 * UnsupportedOpException} naming the op, the node, and the supported set. Loop/If/Scan (any node
 * with a subgraph) are rejected anywhere.
 *
 * <h2>Conventions at non-differentiable points</h2>
 *
 * <ul>
 *   <li>Relu, LeakyRelu, PRelu: the slope for x &gt; 0 is used only for x strictly positive
 *       (derivative of Relu 0 at exactly 0, as PyTorch).
 *   <li>Clip: gradient passes where min &lt; x &lt; max, strictly (as PyTorch's relu6/hardtanh, the
 *       usual source of Clip); HardSigmoid: where 0 &lt; alpha x + beta &lt; 1; HardSwish: 0 for x
 *       &lt; -3, x/3 + 1/2 for -3 &le; x &le; 3, 1 above (as PyTorch).
 *   <li>MaxPool (and GlobalMaxPool, rewritten as a MaxPool over the whole plane): the whole
 *       gradient of a window goes to a single input position, the <em>first</em> maximum of the
 *       window in row-major window order (the position ORT reports in MaxPool's {@code Indices}
 *       output; PyTorch's CPU max_pool2d picks the same one). Pools of disjoint k x k windows that
 *       tile a 4-D input exactly (kernel k x k, strides k, no padding, dilations 1, H and W
 *       multiples of k: the usual MaxPool(2)) compute this without the Indices output, which ORT
 *       runs slowly: window codes k*k - position on the maxima, a MaxPool of the codes to find the
 *       first one, and nearest-neighbour Resize to spread the window values back. Other pools use
 *       the Indices output, and overlapping windows add up (ScatterElements with {@code
 *       reduction="add"}).
 *   <li>Loss heads: the "max over i != y" and the TopK order (DLR) break ties by the lowest class
 *       index (ONNX ArgMax with {@code select_last_index=0} and TopK's documented tie order); the
 *       gradient then goes to that index only.
 *   <li>Round, Floor, Ceil, Sign and Casts to non-float types stop the gradient (their derivative
 *       is 0 almost everywhere); each one on the path adds a note (see also {@link
 *       dev.arat.onnx.scan.GraphScan}).
 *   <li>Quantized (QDQ) and float16 models are differentiated through their float32 surrogate
 *       ({@link StraightThrough}): weight Q/DQ folded into the dequantized weights, each activation
 *       QuantizeLinear/DequantizeLinear pair replaced by a Clip to its range (the straight-through
 *       estimator: identity inside the clip range, zero outside), float16 Casts as the identity.
 *       {@link #GradientGraphBuilder(boolean)} with {@code false} keeps the pairs instead: the
 *       QuantizeLinear stops the gradient and the input gradient is exactly zero.
 * </ul>
 *
 * <h2>Static requirements of some rules</h2>
 *
 * <p>Slice (starts, ends, axes, steps), Gather on activations (indices), Pad (pads), Resize (scales
 * or sizes) and Split/Concat need their index arguments as constants (initializers, Constant nodes,
 * or shape computations that fold, such as PyTorch's {@code Shape -> Gather -> Concat} patterns)
 * and the affected axes of fixed size. Resize supports modes nearest (all four nearest modes) and
 * linear with the coordinate transformations half_pixel, pytorch_half_pixel, align_corners,
 * asymmetric and half_pixel_symmetric (not cubic, tf_crop_and_resize or antialias). Pad supports
 * constant, reflect, edge and wrap. Where, Expand and Pow broadcast as numpy; Gelu (opset 20) takes
 * approximate "none" or "tanh"; LayerNormalization's scale and bias, Clip's bounds and PRelu's
 * slope must not depend on the input.
 *
 * <h2>Cost</h2>
 *
 * <p>A stride-1 Conv whose weight is an initializer is differentiated with a Conv on the flipped,
 * in/out-swapped kernel (ORT runs Conv much faster than ConvTranspose), except when its input has
 * at most 3 channels (the first Conv on an image), where ConvTranspose is faster; strided ones use
 * ConvTranspose. Relu's mask is Sign of its output (so ORT can still fuse Conv+Relu), and is
 * applied at the pooled size when a disjoint-block MaxPool follows. {@code
 * dev.arat.onnx.bench.GradientBench} (test sources) measures the cost of a gradient call relative
 * to a forward call.
 *
 * <h2>Final Softmax</h2>
 *
 * <p>If the graph output is produced by a Softmax (or LogSoftmax) over the class axis, possibly
 * followed by Identity/Dropout, its input is used as logits and {@link GradientGraph#notes()} says
 * so: the heads are defined on logits, never probabilities.
 *
 * <h2>Shapes and opsets</h2>
 *
 * <p>The input must be one float32 tensor whose axis 0 is the batch; the non-batch dimensions must
 * be fixed numbers when Conv, pooling or BatchNormalization need them (static shape inference is
 * done here). The forward model must use default-domain opset 13 or newer; the gradient model uses
 * IR version 8 and opset {@value #OPSET} (or the forward opset, if higher, which the onnx 1.12
 * checker cannot validate but ONNX Runtime runs).
 */
public final class GradientGraphBuilder {
  /** Name of the image input of the gradient model (float32, (N,C,H,W), values in [0,1]). */
  public static final String INPUT = "input";

  /** Name of the true-label input (int64, (N), values in [0,K)). */
  public static final String LABELS = "labels";

  /** Name of the target-class input of targeted heads (int64, (N), values in [0,K)). */
  public static final String TARGETS = "targets";

  /** Name of the logits output (float32, (N,K)). */
  public static final String LOGITS = "logits";

  /** Name of the per-sample loss output (float32, (N)). */
  public static final String LOSS = "loss";

  /** Name of the input-gradient output (float32, same shape as {@link #INPUT}). */
  public static final String INPUT_GRAD = "input_grad";

  /** Default-domain opset of the gradient model (the highest the onnx 1.12 checker knows). */
  public static final int OPSET = 17;

  /** IR version of the gradient model (the highest the onnx 1.12 checker accepts). */
  public static final long IR_VERSION = 8;

  /** The denominator offset of the DLR heads, as in the reference implementation. */
  public static final float DLR_EPS = 1e-12f;

  private final boolean straightThrough;

  /**
   * Creates a builder that differentiates Q/DQ pairs straight-through (see {@link
   * StraightThrough}); stateless, one instance can build many graphs.
   */
  public GradientGraphBuilder() {
    this(true);
  }

  /**
   * Creates a builder.
   *
   * @param straightThrough differentiate QuantizeLinear/DequantizeLinear pairs on the path with the
   *     straight-through estimator (identity inside the clip range, zero outside); when false, a
   *     QuantizeLinear on the path stops the gradient (its exact derivative, zero almost
   *     everywhere), so the input gradient is zero. Float16 Casts are always straight-through.
   */
  public GradientGraphBuilder(boolean straightThrough) {
    this.straightThrough = straightThrough;
  }

  /** The op types that may lie on the path from the input to the logits, sorted. */
  public static SortedSet<String> supportedOps() {
    return GradientRules.SUPPORTED;
  }

  /**
   * Builds the input-gradient model.
   *
   * @param forward a classifier with one float32 input whose axis 0 is the batch and whose first
   *     graph output is the logits (N,K) (or Softmax/LogSoftmax of them)
   * @param head the loss head to differentiate (maximised by attacks)
   * @return the gradient model and diagnostics
   * @throws UnsupportedOpException if an op on the input-to-logits path cannot be differentiated
   * @throws OnnxModelException if the model is malformed or its shapes cannot be resolved
   */
  public GradientGraph build(ModelProto forward, LossHead head) {
    if (!StraightThrough.applies(forward)) {
      return new GradientRun(forward, head).run();
    }
    StraightThrough.Surrogate s = StraightThrough.of(forward, straightThrough);
    GradientRun run = new GradientRun(s.model(), head);
    if (s.straightThroughPairs() > 0) {
      run.note(
          NoteCode.STRAIGHT_THROUGH,
          s.straightThroughPairs()
              + " QuantizeLinear/DequantizeLinear pair(s) on the"
              + " path are differentiated straight-through (identity inside the clip range, zero"
              + " outside; BPDA): the gradient is that of the float surrogate with the dequantized"
              + " weights, while attacks score every candidate on the quantized model. Check it"
              + " with a gradient-free (Square) and a transfer attack");
    }
    if (s.float16()) {
      run.note(
          NoteCode.FLOAT16_STRAIGHT_THROUGH,
          "float16 parts are differentiated straight-through (Cast float16/float32 as"
              + " the identity): the gradient is that of the float32 surrogate with the"
              + " float16-rounded weights");
    }
    return run.run();
  }
}
