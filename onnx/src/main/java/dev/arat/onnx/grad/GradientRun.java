package dev.arat.onnx.grad;

import static dev.arat.onnx.grad.GradientGraphBuilder.INPUT;
import static dev.arat.onnx.grad.GradientGraphBuilder.INPUT_GRAD;
import static dev.arat.onnx.grad.GradientGraphBuilder.IR_VERSION;
import static dev.arat.onnx.grad.GradientGraphBuilder.LABELS;
import static dev.arat.onnx.grad.GradientGraphBuilder.LOGITS;
import static dev.arat.onnx.grad.GradientGraphBuilder.LOSS;
import static dev.arat.onnx.grad.GradientGraphBuilder.OPSET;
import static dev.arat.onnx.grad.GradientGraphBuilder.TARGETS;
import static dev.arat.onnx.grad.GradientRules.unsupported;
import static dev.arat.onnx.grad.GradientRules.unsupportedConfig;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.onnx.grad.GradientGraph.NoteCode;
import dev.arat.specs.LossHead;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * One build of an input-gradient graph (see {@link GradientGraphBuilder} for what is differentiated
 * and how): the forward graph prepared by {@link ForwardGraph}, emitted, followed by the loss head
 * ({@link LossHeads}) and the reverse sweep, which applies the rule of each node's op from {@link
 * GradientRules}. Also the state and helpers the rules share: the gradient contributions of each
 * tensor, shapes, and node emission. Single use.
 */
final class GradientRun {
  private final ModelProto forward;
  private final LossHead head;
  private final List<GradientGraph.Note> notes = new ArrayList<>();
  private final Map<String, List<String>> contributions = new HashMap<>();
  private final Map<String, NodeProto> producers = new HashMap<>();
  private final Set<String> premasked = new HashSet<>();
  private ForwardGraph f;
  private GraphBuilder b;
  private Emitter e;
  private List<NodeProto> emittedNodes = List.of();

  GradientRun(ModelProto forward, LossHead head) {
    this.forward = forward;
    this.head = head;
  }

  void note(NoteCode code, String message) {
    notes.add(new GradientGraph.Note(code, message));
  }

  GradientGraph run() {
    f = ForwardGraph.prepare(forward, head);
    notes.addAll(f.notes());
    ValueInfoProto in0 = f.input();
    String logitsT = f.logits();
    int k = f.classes();
    long opset = f.opset();

    // ---- emit the forward part
    String name = f.graph().getName();
    b = new GraphBuilder(name.isEmpty() ? "gradient" : name + "_gradient");
    e = new Emitter(b);
    b.producer("arat-onnx gradient builder", "");
    b.input(INPUT, Tensors.FLOAT, declaredDimObjects(in0));
    b.input(LABELS, Tensors.INT64, GraphBuilder.BATCH);
    if (head.targeted()) {
      b.input(TARGETS, Tensors.INT64, GraphBuilder.BATCH);
    }
    for (TensorProto t : f.graph().getInitializerList()) {
      String tn = f.renamed(t.getName());
      if (f.read(tn)) {
        String actual = b.initializer(t.toBuilder().setName(tn).build());
        if (!actual.equals(tn)) {
          throw new OnnxModelException(
              "forward model: initializer name '" + tn + "' is used twice");
        }
      }
    }
    List<NodeProto> emitted = f.nodes();
    emitted.forEach(b::appendRaw);
    emittedNodes = emitted;
    for (NodeProto n : emitted) {
      n.getOutputList().forEach(o -> producers.put(o, n));
    }

    // ---- loss head and its logits gradient
    String dz = LossHeads.emit(e, head, logitsT, k);

    // ---- reverse sweep
    addGrad(logitsT, dz);
    for (int i = emitted.size() - 1; i >= 0; i--) {
      NodeProto n = emitted.get(i);
      GradientRules.Rule rule = GradientRules.get(n.getOpType());
      if (rule != null && rule.allOutputs()) {
        rule.backward().apply(this, n, null);
        continue;
      }
      if (!dep(n.getOutput(0))) {
        continue;
      }
      String dy = total(n.getOutput(0));
      if (dy == null) {
        continue;
      }
      if (rule == null) {
        throw unsupported(n, -1, "no gradient rule");
      }
      rule.backward().apply(this, n, dy);
    }
    String gin = total(INPUT);
    if (gin == null && f.stopped()) {
      gin = op(Op.MUL, INPUT, fconst(0f)); // the exact derivative through a QuantizeLinear
    }
    if (gin == null) {
      throw new OnnxModelException("internal error: no gradient reached the input");
    }
    Object[] inDimObjs = declaredDimObjects(in0);
    b.output(logitsT, LOGITS, Tensors.FLOAT, GraphBuilder.BATCH, k > 0 ? k : null);
    b.output(gin, INPUT_GRAD, Tensors.FLOAT, inDimObjs);
    b.output(LOSS, Tensors.FLOAT, GraphBuilder.BATCH);
    for (StringStringEntryProto m : forward.getMetadataPropsList()) {
      b.metadata(m.getKey(), m.getValue());
    }
    b.metadata("arat.gradient.head", head.id());
    b.metadata("arat.gradient.logits", logitsT);
    ModelProto m = b.build(IR_VERSION, (int) Math.max(OPSET, opset));
    if (opset > OPSET) {
      note(
          NoteCode.OPSET_KEPT,
          "the forward model uses opset "
              + opset
              + " > "
              + OPSET
              + "; the gradient model keeps opset "
              + opset);
    }
    return new GradientGraph(m, head, logitsT, f.inputDims(), k, notes);
  }

  private Object[] declaredDimObjects(ValueInfoProto vi) {
    TensorShapeProto s = vi.getType().getTensorType().getShape();
    Object[] dims = new Object[s.getDimCount()];
    for (int i = 0; i < dims.length; i++) {
      TensorShapeProto.Dimension d = s.getDim(i);
      if (i == 0) {
        dims[i] = GraphBuilder.BATCH;
      } else if (d.hasDimValue()) {
        dims[i] = d.getDimValue();
      } else if (d.hasDimParam() && !d.getDimParam().isEmpty()) {
        dims[i] = d.getDimParam().equals(GraphBuilder.BATCH) ? "N_" + i : d.getDimParam();
      } else {
        dims[i] = null;
      }
    }
    return dims;
  }

  // ------------------------------------------------------------ shared with the gradient rules

  /** The builder the gradient nodes go to. */
  GraphBuilder b() {
    return b;
  }

  /** The forward tensors' shapes and small constant values. */
  Shapes shapes() {
    return f.shapes();
  }

  /** Whether tensor {@code t} depends on the input (so gets a gradient). */
  boolean dep(String t) {
    return f.dependsOnInput(t);
  }

  /** The forward initializer named {@code t}, or null. */
  TensorProto initializer(String t) {
    return f.initializer(t);
  }

  /** The forward node producing tensor {@code t}, or null. */
  NodeProto producer(String t) {
    return producers.get(t);
  }

  /**
   * Marks Relu output {@code t} as masked by the rule of the (only) node reading it, so the Relu's
   * rule passes its gradient through unchanged.
   */
  void premask(String t) {
    premasked.add(t);
  }

  /** Whether {@link #premask} was called for {@code t}. */
  boolean premasked(String t) {
    return premasked.contains(t);
  }

  /** A node with attributes; returns its (single) output's name. */
  String op(Op op, Map<String, ?> attrs, String... inputs) {
    return e.op(op, attrs, inputs);
  }

  /** A node without attributes; returns its (single) output's name. */
  String op(Op op, String... inputs) {
    return e.op(op, inputs);
  }

  /** A float32 scalar constant, made once per value. */
  String fconst(float v) {
    return e.fconst(v);
  }

  /** An int64 vector constant, made once per value. */
  String ivec(long... v) {
    return e.ivec(v);
  }

  /** The constant cached under {@code key}, made by {@code make} on first use. */
  String cached(String key, Supplier<String> make) {
    return e.cached(key, make);
  }

  /** See {@link Shapes#known}. */
  long[] known(String t, NodeProto n, String what) {
    return f.shapes().known(t, n, what);
  }

  /** See {@link Shapes#knownSpatial}. */
  long[] knownSpatial(String t, NodeProto n) {
    return f.shapes().knownSpatial(t, n);
  }

  /** Adds a gradient contribution {@code grad} to tensor {@code t}. */
  void addGrad(String t, String grad) {
    contributions.computeIfAbsent(t, x -> new ArrayList<>()).add(grad);
  }

  /** Whether tensor {@code t} has a gradient contribution. */
  boolean hasGrad(String t) {
    return contributions.containsKey(t);
  }

  /** The total gradient of tensor {@code t} (the Sum of its contributions), or null if none. */
  String total(String t) {
    List<String> c = contributions.get(t);
    if (c == null || c.isEmpty()) {
      return null;
    }
    if (c.size() == 1) {
      return c.get(0);
    }
    return b.node(Op.SUM, c, Map.of());
  }

  /**
   * The sum of {@code t} (static shape {@code ts}, or null when unknown) over the axes in {@code
   * axes} (non-negative, ascending), keeping them as size-1 axes. When they are trailing axes of
   * static size (the rows of a softmax, a normalisation or a broadcast scale), the sum is a MatMul
   * with a column of ones, which adds a row's elements in one order whatever rows surround it:
   * ORT's ReduceSum over the last axis chooses its order by the row's memory alignment, so a
   * sample's gradient would change with its position in the batch (seen on two ViTs,
   * OrtClassifierLanesTest). Other axes (a softmax over channels, a sum over the batch axis) keep
   * ReduceSum.
   */
  String sumKeepDims(String t, long[] ts, long[] axes) {
    long k = trailingSize(ts, axes);
    if (k <= 0) {
      return b.node(Op.REDUCE_SUM, List.of(t, ivec(axes)), Map.of("keepdims", 1));
    }
    int rank = ts.length;
    int first = rank - axes.length;
    String ones =
        cached("ones" + k, () -> b.floatInitializer("ones_column", onesOf((int) k), k, 1));
    if (axes.length == 1) {
      return op(Op.MAT_MUL, t, ones);
    }
    long[] rows = new long[first + 1];
    long[] kept = new long[rank];
    Arrays.fill(kept, first, rank, 1);
    rows[first] = k; // zeros elsewhere: Reshape copies those sizes from its input
    return op(Op.RESHAPE, op(Op.MAT_MUL, op(Op.RESHAPE, t, ivec(rows)), ones), ivec(kept));
  }

  /**
   * The number of elements a row over {@code axes} holds when they are the trailing axes of shape
   * {@code ts}, all of static size, and leave the batch axis out; else 0.
   */
  private static long trailingSize(long[] ts, long[] axes) {
    if (ts == null || axes.length == 0 || axes.length >= ts.length) {
      return 0;
    }
    int first = ts.length - axes.length;
    long k = 1;
    for (int i = 0; i < axes.length; i++) {
      if (axes[i] != first + i || ts[first + i] <= 0) {
        return 0;
      }
      k *= ts[first + i];
    }
    return k;
  }

  private static float[] onesOf(int n) {
    float[] v = new float[n];
    Arrays.fill(v, 1f);
    return v;
  }

  /** The Shape of tensor {@code t}, as a node. */
  String shapeOf(String t) {
    return op(Op.SHAPE, t);
  }

  /**
   * Sums a gradient of static shape {@code gs} down to the shape of {@code operand} (numpy
   * broadcasting in reverse): leading extra axes and axes where the operand has size 1.
   */
  String unbroadcast(String grad, long[] gs, String operand, NodeProto n) {
    long[] os = shapes().known(operand, n, "operand");
    if (gs == null) {
      throw new OnnxModelException(
          "cannot infer the output shape of "
              + n.getOpType()
              + " node '"
              + n.getName()
              + "', which its gradient needs");
    }
    int r = gs.length;
    int ro = os.length;
    List<Long> axes = new ArrayList<>();
    for (int i = 0; i < r; i++) {
      if (i < r - ro) {
        axes.add((long) i);
      } else if (os[i - (r - ro)] == 1 && gs[i] != 1) {
        axes.add((long) i);
      }
    }
    if (axes.isEmpty() && r == ro) {
      return grad;
    }
    String res = grad;
    if (!axes.isEmpty()) {
      res = sumKeepDims(grad, gs, axes.stream().mapToLong(Long::longValue).toArray());
    }
    if (r != ro) {
      res = op(Op.RESHAPE, res, shapeOf(operand));
    }
    return res;
  }

  void requireConstant(NodeProto n, int... inputIdx) {
    for (int i : inputIdx) {
      if (i < n.getInputCount() && dep(n.getInput(i))) {
        throw unsupportedConfig(
            n,
            "its input "
                + i
                + " ('"
                + n.getInput(i)
                + "') depends on the model input; only input 0 may");
      }
    }
  }

  /** How many emitted forward nodes read tensor {@code t} (counting repeats). */
  int consumers(String t) {
    int c = 0;
    for (NodeProto e : emittedNodes) {
      for (String i : e.getInputList()) {
        if (i.equals(t)) {
          c++;
        }
      }
    }
    return c;
  }
}
