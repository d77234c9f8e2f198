package dev.arat.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.AttributeProto.AttributeType;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small builder for ONNX graphs over the {@code ai.onnx.proto.OnnxMl} protobuf classes.
 *
 * <p>Every node is checked against the op table {@link Op} when it is added (arity, attribute names
 * and types, required attributes) and every input must already be defined (graph input, initializer
 * or an earlier node's output), so nodes are written in topological order. The builder makes unique
 * node and tensor names from hints; names the caller asks for explicitly must be new.
 *
 * <p>Typical use (a tiny classifier on NCHW float32 images with a symbolic batch axis "N"):
 *
 * <pre>{@code
 * GraphBuilder g = new GraphBuilder("net");
 * String x = g.imageInput("input", 3, 32, 32);
 * String w = g.floatInitializer("conv1.weight", weights, 8, 3, 3, 3);
 * String y = g.node(Op.CONV, List.of(x, w), Map.of("kernel_shape", new long[] {3, 3},
 *     "pads", new long[] {1, 1, 1, 1}));
 * y = g.node(Op.RELU, y);
 * ...
 * g.output(logits, "logits", Tensors.FLOAT, "N", 10);
 * ModelProto m = g.metadata("arat.seed", "7").build(17);
 * }</pre>
 *
 * <p>Attribute values: {@link Integer}/{@link Long} for INT, {@link Float}/{@link Double} (or any
 * number) for FLOAT, {@link String} for STRING, {@code int[]}/{@code long[]} for INTS, {@code
 * float[]}/{@code double[]} for FLOATS, {@code String[]} for STRINGS and {@link TensorProto} for
 * TENSOR. Not thread-safe.
 */
public final class GraphBuilder {
  /** The IR version written by {@link #build(int)}; the onnx 1.12 checker accepts at most 8. */
  public static final long DEFAULT_IR_VERSION = 8;

  /** The symbolic batch dimension name used by {@link #imageInput}. */
  public static final String BATCH = "N";

  private final String graphName;
  private final List<NodeProto> nodes = new ArrayList<>();
  private final List<TensorProto> initializers = new ArrayList<>();
  private final List<ValueInfoProto> inputs = new ArrayList<>();
  private final List<ValueInfoProto> outputs = new ArrayList<>();
  private final List<ValueInfoProto> valueInfos = new ArrayList<>();
  private final NameRegistry tensorNames = new NameRegistry();
  private final NameRegistry nodeNames = new NameRegistry();
  private final Map<String, String> metadata = new LinkedHashMap<>();
  private String docString = "";
  private String producerName = "arat";
  private String producerVersion = "";

  /**
   * Starts an empty graph.
   *
   * @param graphName the graph's name (stored in {@code GraphProto.name})
   */
  public GraphBuilder(String graphName) {
    this.graphName = graphName;
  }

  /**
   * Starts a builder holding a copy of an existing graph's inputs, initializers, nodes, outputs and
   * value-infos, so that more nodes can be appended. Names already used in the graph are reserved.
   * The copied nodes are not re-validated against the op table (they may use any op).
   */
  public static GraphBuilder copyOf(GraphProto graph) {
    GraphBuilder b = new GraphBuilder(graph.getName());
    for (ValueInfoProto vi : graph.getInputList()) {
      b.inputs.add(vi);
      b.tensorNames.add(vi.getName());
    }
    for (TensorProto t : graph.getInitializerList()) {
      b.initializers.add(t);
      b.tensorNames.add(t.getName());
    }
    for (NodeProto n : graph.getNodeList()) {
      b.appendRaw(n);
    }
    b.outputs.addAll(graph.getOutputList());
    b.valueInfos.addAll(graph.getValueInfoList());
    b.docString = graph.getDocString();
    return b;
  }

  /**
   * Appends an already-made node without op-table validation (for copying foreign graphs); its
   * output and node names are reserved. Its inputs must be defined unless they are empty strings.
   */
  public void appendRaw(NodeProto n) {
    for (String in : n.getInputList()) {
      if (!in.isEmpty() && !tensorNames.contains(in)) {
        throw new OnnxModelException(
            "node '"
                + n.getName()
                + "' ("
                + n.getOpType()
                + ") reads tensor '"
                + in
                + "' that no graph input, initializer or earlier node"
                + " defines");
      }
    }
    for (String out : n.getOutputList()) {
      if (!out.isEmpty()) {
        tensorNames.add(out);
      }
    }
    if (!n.getName().isEmpty()) {
      nodeNames.add(n.getName());
    }
    nodes.add(n);
  }

  /**
   * Returns a tensor name not used yet in this graph, derived from {@code hint}, and reserves it.
   */
  public String uniqueName(String hint) {
    return tensorNames.fresh(hint == null || hint.isEmpty() ? "t" : hint);
  }

  /** A node name not used yet (reserved by {@code addNode} once the node is valid). */
  private String uniqueNodeName(String hint) {
    return nodeNames.unused(hint);
  }

  // ---------------------------------------------------------------- inputs, outputs, initializers

  /**
   * Declares a graph input.
   *
   * @param name the input name; must not be used yet
   * @param elemType ONNX element type, e.g. {@link Tensors#FLOAT}
   * @param dims each a number (fixed), a string (symbolic, e.g. {@code "N"}) or {@code null}
   * @return {@code name}
   */
  public String input(String name, int elemType, Object... dims) {
    claim(name, "graph input");
    inputs.add(Tensors.valueInfo(name, elemType, dims));
    return name;
  }

  /**
   * Declares a float32 image input of shape {@code (N,C,H,W)} with a symbolic batch axis {@code
   * "N"}; values are pixels in {@code [0,1]} by the project's contract.
   *
   * @return {@code name}
   */
  public String imageInput(String name, int channels, int height, int width) {
    return input(name, Tensors.FLOAT, BATCH, channels, height, width);
  }

  /**
   * Declares a graph output for an existing tensor, under the tensor's own name.
   *
   * @param tensor a tensor defined in the graph
   * @param elemType ONNX element type
   * @param dims each a number, a string (symbolic) or {@code null}; a {@code null} array declares
   *     no shape
   */
  public void output(String tensor, int elemType, Object... dims) {
    if (!tensorNames.contains(tensor)) {
      throw new OnnxModelException("graph output '" + tensor + "' is not defined in the graph");
    }
    outputs.add(Tensors.valueInfo(tensor, elemType, dims));
  }

  /**
   * Declares a graph output named {@code name} for an existing tensor; if the names differ an
   * Identity node copies the tensor to the new name.
   *
   * @return {@code name}
   */
  public String output(String tensor, String name, int elemType, Object... dims) {
    String out = tensor;
    if (!tensor.equals(name)) {
      out = nodeTo(Op.IDENTITY, List.of(tensor), Map.of(), name).get(0);
    }
    output(out, elemType, dims);
    return out;
  }

  /** Adds a value-info (shape annotation) for an intermediate tensor. */
  public void valueInfo(ValueInfoProto vi) {
    valueInfos.add(vi);
  }

  /**
   * Adds a float32 initializer.
   *
   * @param nameHint preferred name (made unique with a suffix if taken)
   * @param data values, row-major; length equals the product of {@code shape}
   * @param shape dimensions ({@code long} each); empty for a scalar
   * @return the initializer's actual name
   */
  public String floatInitializer(String nameHint, float[] data, long... shape) {
    String name = uniqueName(nameHint);
    initializers.add(Tensors.floatTensor(name, data, shape));
    return name;
  }

  /**
   * Adds an int64 initializer (shapes, axes, indices).
   *
   * @param nameHint preferred name (made unique if taken)
   * @param data values, row-major; length equals the product of {@code shape}
   * @param shape dimensions; empty for a scalar
   * @return the initializer's actual name
   */
  public String int64Initializer(String nameHint, long[] data, long... shape) {
    String name = uniqueName(nameHint);
    initializers.add(Tensors.int64Tensor(name, data, shape));
    return name;
  }

  /** Adds a 1-D int64 initializer holding {@code values} (e.g. axes or a target shape). */
  public String int64Vector(String nameHint, long... values) {
    return int64Initializer(nameHint, values, values.length);
  }

  /** Adds a float32 scalar (rank 0) initializer. */
  public String floatScalar(String nameHint, float value) {
    return floatInitializer(nameHint, new float[] {value});
  }

  /**
   * Adds an initializer given as a ready {@link TensorProto}; its name is made unique if taken.
   *
   * @return the initializer's actual name
   */
  public String initializer(TensorProto tensor) {
    String name = uniqueName(tensor.getName());
    initializers.add(
        name.equals(tensor.getName()) ? tensor : tensor.toBuilder().setName(name).build());
    return name;
  }

  // ------------------------------------------------------------------------------------- nodes

  /** Adds a single-output node without attributes; returns its output tensor name. */
  public String node(Op op, String... inputs) {
    return node(op, Arrays.asList(inputs), Map.of());
  }

  /**
   * Adds a single-output node.
   *
   * @param op the operator
   * @param inputs input tensor names ({@code ""} for an omitted optional input)
   * @param attrs attribute name to value (see the class comment for the value types)
   * @return the output tensor name
   */
  public String node(Op op, List<String> inputs, Map<String, ?> attrs) {
    return node(op, inputs, attrs, 1).get(0);
  }

  /**
   * Adds a node with {@code numOutputs} outputs whose names the builder makes.
   *
   * @return the output tensor names, in order
   */
  public List<String> node(Op op, List<String> inputs, Map<String, ?> attrs, int numOutputs) {
    String nodeName = uniqueNodeName(op.namePrefix());
    String[] outs = new String[numOutputs];
    for (int i = 0; i < numOutputs; i++) {
      outs[i] = nodeName + (i == 0 ? "_out" : "_out" + i);
    }
    return addNode(op, nodeName, inputs, attrs, outs, true);
  }

  /**
   * Adds a node whose outputs get exactly the given names (e.g. a final {@code "logits"}).
   *
   * @throws OnnxModelException if an output name is already used in the graph
   */
  public List<String> nodeTo(
      Op op, List<String> inputs, Map<String, ?> attrs, String... outputNames) {
    return addNode(op, uniqueNodeName(op.namePrefix()), inputs, attrs, outputNames, false);
  }

  private List<String> addNode(
      Op op,
      String nodeName,
      List<String> inputs,
      Map<String, ?> attrs,
      String[] outputNames,
      boolean uniquify) {
    String where = op.opType() + " node '" + nodeName + "'";
    int nIn = inputs.size();
    while (nIn > 0 && inputs.get(nIn - 1).isEmpty()) {
      nIn--; // trailing omitted optionals do not count
    }
    if (nIn < op.minInputs() || nIn > op.maxInputs()) {
      throw new OnnxModelException(
          where + ": takes " + range(op.minInputs(), op.maxInputs()) + " inputs, got " + nIn);
    }
    if (outputNames.length < op.minOutputs() || outputNames.length > op.maxOutputs()) {
      throw new OnnxModelException(
          where
              + ": has "
              + range(op.minOutputs(), op.maxOutputs())
              + " outputs, asked for "
              + outputNames.length);
    }
    for (int i = 0; i < nIn; i++) {
      String in = inputs.get(i);
      if (in == null) {
        throw new OnnxModelException(where + ": input " + i + " is null");
      }
      if (!in.isEmpty() && !tensorNames.contains(in)) {
        throw new OnnxModelException(
            where
                + ": input "
                + i
                + " '"
                + in
                + "' is not defined (no graph input, initializer or earlier node output has that name)");
      }
    }
    NodeProto.Builder nb = NodeProto.newBuilder().setName(nodeName).setOpType(op.opType());
    nb.addAllInput(inputs.subList(0, nIn));
    for (Map.Entry<String, ?> e : new java.util.TreeMap<>(attrs).entrySet()) {
      AttributeType type = op.attributes().get(e.getKey());
      if (type == null) {
        throw new OnnxModelException(
            where
                + ": unknown attribute '"
                + e.getKey()
                + "'; allowed: "
                + op.attributes().keySet());
      }
      nb.addAttribute(attribute(where, e.getKey(), type, e.getValue()));
    }
    for (String req : op.requiredAttributes()) {
      if (!attrs.containsKey(req)) {
        throw new OnnxModelException(where + ": required attribute '" + req + "' is missing");
      }
    }
    if (!uniquify) {
      for (String o : outputNames) {
        if (o == null || o.isEmpty() || tensorNames.contains(o)) {
          throw new OnnxModelException(
              where + " output: tensor name '" + o + "' is empty or already used");
        }
      }
    }
    nodeNames.add(nodeName);
    List<String> outs = new ArrayList<>();
    for (String o : outputNames) {
      String name;
      if (uniquify) {
        name = uniqueName(o);
      } else {
        claim(o, where + " output");
        name = o;
      }
      outs.add(name);
      nb.addOutput(name);
    }
    nodes.add(nb.build());
    return outs;
  }

  private static String range(int lo, int hi) {
    if (lo == hi) {
      return "exactly " + lo;
    }
    return hi == Integer.MAX_VALUE ? "at least " + lo : lo + " to " + hi;
  }

  private void claim(String name, String what) {
    if (name == null || name.isEmpty()) {
      throw new OnnxModelException(what + ": name must not be empty");
    }
    if (!tensorNames.add(name)) {
      throw new OnnxModelException(what + ": tensor name '" + name + "' is already used");
    }
  }

  private static AttributeProto attribute(String where, String name, AttributeType type, Object v) {
    AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(type);
    String bad =
        where
            + ": attribute '"
            + name
            + "' must be "
            + type
            + ", got "
            + (v == null ? "null" : v.getClass().getSimpleName());
    switch (type) {
      case INT -> {
        if (!(v instanceof Integer
            || v instanceof Long
            || v instanceof Short
            || v instanceof Byte)) {
          throw new OnnxModelException(bad);
        }
        a.setI(((Number) v).longValue());
      }
      case FLOAT -> {
        if (!(v instanceof Number num)) {
          throw new OnnxModelException(bad);
        }
        a.setF(num.floatValue());
      }
      case STRING -> {
        if (!(v instanceof String s)) {
          throw new OnnxModelException(bad);
        }
        a.setS(com.google.protobuf.ByteString.copyFromUtf8(s));
      }
      case INTS -> {
        if (v instanceof int[] ints) {
          for (int x : ints) {
            a.addInts(x);
          }
        } else if (v instanceof long[] longs) {
          for (long x : longs) {
            a.addInts(x);
          }
        } else {
          throw new OnnxModelException(bad);
        }
      }
      case FLOATS -> {
        if (v instanceof float[] fs) {
          for (float x : fs) {
            a.addFloats(x);
          }
        } else if (v instanceof double[] ds) {
          for (double x : ds) {
            a.addFloats((float) x);
          }
        } else {
          throw new OnnxModelException(bad);
        }
      }
      case STRINGS -> {
        if (!(v instanceof String[] ss)) {
          throw new OnnxModelException(bad);
        }
        for (String s : ss) {
          a.addStrings(com.google.protobuf.ByteString.copyFromUtf8(s));
        }
      }
      case TENSOR -> {
        if (!(v instanceof TensorProto t)) {
          throw new OnnxModelException(bad);
        }
        a.setT(t);
      }
      default ->
          throw new OnnxModelException(
              where + ": attribute type " + type + " is not supported by the builder");
    }
    return a.build();
  }

  // ------------------------------------------------------------------------------------- build

  /** Sets a {@code metadata_props} entry of the model (e.g. provenance); later values replace. */
  public GraphBuilder metadata(String key, String value) {
    metadata.put(key, value);
    return this;
  }

  /** Sets the graph's doc string. */
  public GraphBuilder docString(String doc) {
    this.docString = doc;
    return this;
  }

  /** Sets the model's producer name and version (defaults: {@code "arat"}, empty). */
  public GraphBuilder producer(String name, String version) {
    this.producerName = name;
    this.producerVersion = version;
    return this;
  }

  /** The nodes added so far, in order (read-only view). */
  public List<NodeProto> nodes() {
    return java.util.Collections.unmodifiableList(nodes);
  }

  /**
   * Builds the {@code GraphProto}.
   *
   * @throws OnnxModelException if the graph has no inputs or no outputs
   */
  public GraphProto buildGraph() {
    if (inputs.isEmpty()) {
      throw new OnnxModelException("graph '" + graphName + "' has no inputs");
    }
    if (outputs.isEmpty()) {
      throw new OnnxModelException("graph '" + graphName + "' has no outputs");
    }
    return GraphProto.newBuilder()
        .setName(graphName)
        .setDocString(docString)
        .addAllInput(inputs)
        .addAllInitializer(initializers)
        .addAllNode(nodes)
        .addAllOutput(outputs)
        .addAllValueInfo(valueInfos)
        .build();
  }

  /** Builds a model with IR version {@value #DEFAULT_IR_VERSION} and the given default opset. */
  public ModelProto build(int opset) {
    return build(DEFAULT_IR_VERSION, opset);
  }

  /**
   * Builds a model.
   *
   * @param irVersion ONNX IR version (8 keeps the onnx 1.12 checker happy)
   * @param opset default-domain opset version (13 to 17 are what the op table describes)
   */
  public ModelProto build(long irVersion, int opset) {
    ModelProto.Builder m =
        ModelProto.newBuilder()
            .setIrVersion(irVersion)
            .setProducerName(producerName)
            .setProducerVersion(producerVersion)
            .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
            .setGraph(buildGraph());
    for (Map.Entry<String, String> e : metadata.entrySet()) {
      m.addMetadataProps(
          StringStringEntryProto.newBuilder().setKey(e.getKey()).setValue(e.getValue()));
    }
    return m.build();
  }
}
