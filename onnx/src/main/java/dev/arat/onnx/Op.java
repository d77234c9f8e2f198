package dev.arat.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto.AttributeType;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The op table: the ONNX operators (default domain, opsets 13 to 17) that {@link GraphBuilder} can
 * write, each with its input/output arity and its attributes (name and type).
 *
 * <p>The table is checked when a node is added: too few or too many inputs or outputs, an unknown
 * attribute, an attribute of the wrong type, or a missing required attribute fails at once with a
 * message naming the op and the node. The attribute lists follow the ONNX operator specification
 * for opset 13 to 17 (attributes that became inputs in those opsets, such as {@code ReduceSum}'s
 * {@code axes}, are inputs here).
 */
public enum Op {
  /** 2-D/N-D convolution: X (N,C,spatial), W (M,C/group,k...), optional B (M). */
  CONV(
      "Conv",
      2,
      3,
      1,
      1,
      "auto_pad:STRING",
      "dilations:INTS",
      "group:INT",
      "kernel_shape:INTS",
      "pads:INTS",
      "strides:INTS"),
  /** Transposed convolution: X (N,C,spatial), W (C,M/group,k...), optional B (M). */
  CONV_TRANSPOSE(
      "ConvTranspose",
      2,
      3,
      1,
      1,
      "auto_pad:STRING",
      "dilations:INTS",
      "group:INT",
      "kernel_shape:INTS",
      "output_padding:INTS",
      "output_shape:INTS",
      "pads:INTS",
      "strides:INTS"),
  /** Batch normalisation: X, scale, B, mean, var; inference form has one output. */
  BATCH_NORMALIZATION(
      "BatchNormalization", 5, 5, 1, 3, "epsilon:FLOAT", "momentum:FLOAT", "training_mode:INT"),
  /** Rectified linear unit, max(x, 0). */
  RELU("Relu", 1, 1, 1, 1),
  /** Leaky ReLU with slope {@code alpha} below zero. */
  LEAKY_RELU("LeakyRelu", 1, 1, 1, 1, "alpha:FLOAT"),
  /** Logistic sigmoid. */
  SIGMOID("Sigmoid", 1, 1, 1, 1),
  /** Hyperbolic tangent. */
  TANH("Tanh", 1, 1, 1, 1),
  /** Max pooling; the optional second output holds flat indices into the input. */
  MAX_POOL(
      "MaxPool",
      1,
      1,
      1,
      2,
      "auto_pad:STRING",
      "ceil_mode:INT",
      "dilations:INTS",
      "kernel_shape!:INTS",
      "pads:INTS",
      "storage_order:INT",
      "strides:INTS"),
  /** Average pooling. */
  AVERAGE_POOL(
      "AveragePool",
      1,
      1,
      1,
      1,
      "auto_pad:STRING",
      "ceil_mode:INT",
      "count_include_pad:INT",
      "kernel_shape!:INTS",
      "pads:INTS",
      "strides:INTS"),
  /** Global average pooling over all spatial axes, keeping them as size 1. */
  GLOBAL_AVERAGE_POOL("GlobalAveragePool", 1, 1, 1, 1),
  /** Global max pooling over all spatial axes. */
  GLOBAL_MAX_POOL("GlobalMaxPool", 1, 1, 1, 1),
  /** Flattens to 2-D at {@code axis} (default 1). */
  FLATTEN("Flatten", 1, 1, 1, 1, "axis:INT"),
  /** General matrix multiply {@code alpha*A'B' + beta*C}. */
  GEMM("Gemm", 2, 3, 1, 1, "alpha:FLOAT", "beta:FLOAT", "transA:INT", "transB:INT"),
  /** Numpy-style matrix product. */
  MAT_MUL("MatMul", 2, 2, 1, 1),
  /** Elementwise sum with numpy broadcasting. */
  ADD("Add", 2, 2, 1, 1),
  /** Elementwise difference with numpy broadcasting. */
  SUB("Sub", 2, 2, 1, 1),
  /** Elementwise product with numpy broadcasting. */
  MUL("Mul", 2, 2, 1, 1),
  /** Elementwise quotient with numpy broadcasting. */
  DIV("Div", 2, 2, 1, 1),
  /** Elementwise sum of any number of tensors (broadcasting). */
  SUM("Sum", 1, Integer.MAX_VALUE, 1, 1),
  /** Elementwise negation. */
  NEG("Neg", 1, 1, 1, 1),
  /** Elementwise square root. */
  SQRT("Sqrt", 1, 1, 1, 1),
  /** Elementwise exponential. */
  EXP("Exp", 1, 1, 1, 1),
  /** Elementwise natural logarithm. */
  LOG("Log", 1, 1, 1, 1),
  /** Elementwise reciprocal. */
  RECIPROCAL("Reciprocal", 1, 1, 1, 1),
  /** Reshape to the int64 shape given as second input. */
  RESHAPE("Reshape", 2, 2, 1, 1, "allowzero:INT"),
  /** Identity. */
  IDENTITY("Identity", 1, 1, 1, 1),
  /** Dropout (identity at inference); optional ratio and training_mode inputs, optional mask. */
  DROPOUT("Dropout", 1, 3, 1, 2, "seed:INT"),
  /** Softmax along {@code axis} (default -1). */
  SOFTMAX("Softmax", 1, 1, 1, 1, "axis:INT"),
  /** Log-softmax along {@code axis} (default -1). */
  LOG_SOFTMAX("LogSoftmax", 1, 1, 1, 1, "axis:INT"),
  /** Axis permutation. */
  TRANSPOSE("Transpose", 1, 1, 1, 1, "perm:INTS"),
  /** The int64 shape of a tensor. */
  SHAPE("Shape", 1, 1, 1, 1, "end:INT", "start:INT"),
  /** The number of elements of a tensor (int64 scalar). */
  SIZE("Size", 1, 1, 1, 1),
  /** Gather slices along {@code axis}. */
  GATHER("Gather", 2, 2, 1, 1, "axis:INT"),
  /** Gather single elements along {@code axis}. */
  GATHER_ELEMENTS("GatherElements", 2, 2, 1, 1, "axis:INT"),
  /** Scatter single elements along {@code axis}, optionally reducing ("add", "mul"; opset 16+). */
  SCATTER_ELEMENTS("ScatterElements", 3, 3, 1, 1, "axis:INT", "reduction:STRING"),
  /** Sum over the axes given as optional int64 second input. */
  REDUCE_SUM("ReduceSum", 1, 2, 1, 1, "keepdims:INT", "noop_with_empty_axes:INT"),
  /** Mean over {@code axes} (attribute up to opset 17). */
  REDUCE_MEAN("ReduceMean", 1, 1, 1, 1, "axes:INTS", "keepdims:INT"),
  /** Maximum over {@code axes} (attribute up to opset 17). */
  REDUCE_MAX("ReduceMax", 1, 1, 1, 1, "axes:INTS", "keepdims:INT"),
  /**
   * Index of the maximum along {@code axis}; ties go to the first index unless select_last_index.
   */
  ARG_MAX("ArgMax", 1, 1, 1, 1, "axis:INT", "keepdims:INT", "select_last_index:INT"),
  /** The k largest (or smallest) elements along {@code axis}, with their indices. */
  TOP_K("TopK", 2, 2, 2, 2, "axis:INT", "largest:INT", "sorted:INT"),
  /** One-hot encoding: indices, depth, values [off, on]. */
  ONE_HOT("OneHot", 3, 3, 1, 1, "axis:INT"),
  /** Elementwise equality (bool output). */
  EQUAL("Equal", 2, 2, 1, 1),
  /** Elementwise greater-than (bool output). */
  GREATER("Greater", 2, 2, 1, 1),
  /** Elementwise less-than (bool output). */
  LESS("Less", 2, 2, 1, 1),
  /** Elementwise logical not. */
  NOT("Not", 1, 1, 1, 1),
  /** Elementwise select: condition, X, Y. */
  WHERE("Where", 3, 3, 1, 1),
  /** Element type conversion to the {@code to} data type. */
  CAST("Cast", 1, 1, 1, 1, "to!:INT"),
  /** A constant tensor (exactly one value attribute). */
  CONSTANT(
      "Constant",
      0,
      0,
      1,
      1,
      "value:TENSOR",
      "value_float:FLOAT",
      "value_floats:FLOATS",
      "value_int:INT",
      "value_ints:INTS",
      "value_string:STRING",
      "value_strings:STRINGS"),
  /** A tensor of the given int64 shape filled with {@code value} (default float 0). */
  CONSTANT_OF_SHAPE("ConstantOfShape", 1, 1, 1, 1, "value:TENSOR"),
  /** Broadcast to the given int64 shape. */
  EXPAND("Expand", 2, 2, 1, 1),
  /** Concatenation along {@code axis}. */
  CONCAT("Concat", 1, Integer.MAX_VALUE, 1, 1, "axis!:INT"),
  /** Inserts size-1 axes given as int64 second input. */
  UNSQUEEZE("Unsqueeze", 2, 2, 1, 1),
  /** Removes size-1 axes given as optional int64 second input. */
  SQUEEZE("Squeeze", 1, 2, 1, 1),
  /** Slicing: data, starts, ends, optional axes and steps. */
  SLICE("Slice", 3, 5, 1, 1),
  /** Padding: data, pads, optional constant value. */
  PAD("Pad", 2, 3, 1, 1, "mode:STRING"),
  /** Clipping to optional min and max inputs. */
  CLIP("Clip", 1, 3, 1, 1),
  /** Parametric ReLU: X, slope (broadcast to X). */
  PRELU("PRelu", 2, 2, 1, 1),
  /** Hard sigmoid {@code max(0, min(1, alpha*x + beta))}. */
  HARD_SIGMOID("HardSigmoid", 1, 1, 1, 1, "alpha:FLOAT", "beta:FLOAT"),
  /** Hard swish {@code x * max(0, min(1, x/6 + 1/2))}. */
  HARD_SWISH("HardSwish", 1, 1, 1, 1),
  /** Elementwise Gauss error function. */
  ERF("Erf", 1, 1, 1, 1),
  /** GELU (default domain from opset 20 only; {@code approximate} "none" or "tanh"). */
  GELU("Gelu", 1, 1, 1, 1, "approximate:STRING"),
  /** Elementwise power with numpy broadcasting. */
  POW("Pow", 2, 2, 1, 1),
  /** Elementwise absolute value. */
  ABS("Abs", 1, 1, 1, 1),
  /** Elementwise sign (-1, 0, 1). */
  SIGN("Sign", 1, 1, 1, 1),
  /** Elementwise greater-or-equal (bool output). */
  GREATER_OR_EQUAL("GreaterOrEqual", 2, 2, 1, 1),
  /** Elementwise less-or-equal (bool output). */
  LESS_OR_EQUAL("LessOrEqual", 2, 2, 1, 1),
  /** Elementwise logical and. */
  AND("And", 2, 2, 1, 1),
  /** Splits along {@code axis} into outputs of the sizes given as optional int64 second input. */
  SPLIT("Split", 1, 2, 1, Integer.MAX_VALUE, "axis:INT"),
  /** Resizing: X, optional roi, scales, sizes (nearest, linear or cubic interpolation). */
  RESIZE(
      "Resize",
      1,
      4,
      1,
      1,
      "coordinate_transformation_mode:STRING",
      "cubic_coeff_a:FLOAT",
      "exclude_outside:INT",
      "extrapolation_value:FLOAT",
      "mode:STRING",
      "nearest_mode:STRING"),
  /**
   * Layer normalisation over the axes from {@code axis} on (opset 17); Y, optional Mean, InvStdDev.
   */
  LAYER_NORMALIZATION(
      "LayerNormalization", 2, 3, 1, 3, "axis:INT", "epsilon:FLOAT", "stash_type:INT"),
  /** The int64/float sequence start, start+delta, ... below limit. */
  RANGE("Range", 3, 3, 1, 1),
  /** Repeats a tensor along each axis the given int64 number of times. */
  TILE("Tile", 2, 2, 1, 1);

  private final String opType;
  private final int minInputs;
  private final int maxInputs;
  private final int minOutputs;
  private final int maxOutputs;
  private final Map<String, AttributeType> attributes;
  private final Set<String> required;

  Op(String opType, int minIn, int maxIn, int minOut, int maxOut, String... attrs) {
    this.opType = opType;
    this.minInputs = minIn;
    this.maxInputs = maxIn;
    this.minOutputs = minOut;
    this.maxOutputs = maxOut;
    Map<String, AttributeType> m = new LinkedHashMap<>();
    Set<String> req = new TreeSet<>();
    for (String a : attrs) {
      int colon = a.indexOf(':');
      String name = a.substring(0, colon);
      if (name.endsWith("!")) {
        name = name.substring(0, name.length() - 1);
        req.add(name);
      }
      m.put(name, AttributeType.valueOf(a.substring(colon + 1)));
    }
    this.attributes = Collections.unmodifiableMap(m);
    this.required = Collections.unmodifiableSet(req);
  }

  /** The ONNX operator name, e.g. {@code "Conv"}. */
  public String opType() {
    return opType;
  }

  /** The smallest number of inputs (optional inputs left out count as absent). */
  public int minInputs() {
    return minInputs;
  }

  /** The largest number of inputs ({@link Integer#MAX_VALUE} for variadic ops). */
  public int maxInputs() {
    return maxInputs;
  }

  /** The smallest number of outputs. */
  public int minOutputs() {
    return minOutputs;
  }

  /** The largest number of outputs. */
  public int maxOutputs() {
    return maxOutputs;
  }

  /** The allowed attributes, name to ONNX attribute type, in specification order. */
  public Map<String, AttributeType> attributes() {
    return attributes;
  }

  /** The attributes that must be given. */
  public Set<String> requiredAttributes() {
    return required;
  }

  /** Finds the table entry for an ONNX operator name (case-sensitive), or {@code null}. */
  public static Op forOpType(String opType) {
    for (Op op : values()) {
      if (op.opType.equals(opType)) {
        return op;
      }
    }
    return null;
  }

  @Override
  public String toString() {
    return opType;
  }

  /** A lower-case prefix for generated node names, e.g. {@code "conv"}. */
  String namePrefix() {
    return name().toLowerCase(Locale.ROOT).replace("_", "");
  }
}
