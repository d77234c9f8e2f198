package dev.arat.onnx.grad;

import static dev.arat.onnx.GraphIndex.floatAttr;
import static dev.arat.onnx.GraphIndex.intAttr;
import static dev.arat.onnx.GraphIndex.intsAttr;
import static dev.arat.onnx.GraphIndex.stringAttr;
import static dev.arat.onnx.grad.GradientGraphBuilder.INPUT;
import static dev.arat.onnx.grad.GradientGraphBuilder.INPUT_GRAD;
import static dev.arat.onnx.grad.GradientGraphBuilder.IR_VERSION;
import static dev.arat.onnx.grad.GradientGraphBuilder.LABELS;
import static dev.arat.onnx.grad.GradientGraphBuilder.LOGITS;
import static dev.arat.onnx.grad.GradientGraphBuilder.LOSS;
import static dev.arat.onnx.grad.GradientGraphBuilder.OPSET;
import static dev.arat.onnx.grad.GradientGraphBuilder.TARGETS;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.GraphIndex;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.onnx.grad.GradientGraph.NoteCode;
import dev.arat.specs.LossHead;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * One build of an input-gradient graph (see {@link GradientGraphBuilder} for what is
 * differentiated and how): the forward graph's preparation, the gradient rules as a table keyed
 * by op type, and the reverse sweep. Single use.
 */
final class GradientRun {
  private static final List<String> RESERVED =
      List.of(INPUT, LABELS, TARGETS, LOGITS, LOSS, INPUT_GRAD);

  /**
   * The gradient rules, keyed by op type, grouped as elementwise ops and activations;
   * convolutions, products and pools; shape ops; normalisations. The supported-op list is this
   * table's key set.
   */
  private static final Map<String, Rule> RULES = rules();

  static final SortedSet<String> SUPPORTED =
      Collections.unmodifiableSortedSet(new TreeSet<>(RULES.keySet()));

  /**
   * Stride-1 Convs whose input has at most this many channels (typically the first Conv, on the
   * image) are differentiated with ConvTranspose: for so few output channels ORT's ConvTranspose
   * (GEMM with K = the Conv's output channels, then a small col2im) is about 3x faster than the
   * flipped-kernel Conv (im2col of all the output channels for a 1-row GEMM).
   */
  private static final int CONV_TRANSPOSE_MAX_CHANNELS = 3;

  // ============================================================================ rule table

  /** The reverse-mode rule of one op: adds the gradient contributions of its inputs. */
  @FunctionalInterface
  private interface Backward {
    /**
     * @param run the run being built
     * @param n the forward node
     * @param dy the total gradient of the node's output 0 ({@code null} for rules that read the
     *     gradients of all outputs themselves)
     */
    void apply(GradientRun run, NodeProto n, String dy);
  }

  /**
   * A gradient rule.
   *
   * @param allOutputs whether the rule reads the gradients of all the node's outputs itself (and
   *     runs even when output 0 has none), as Split
   * @param backward the rule
   */
  private record Rule(boolean allOutputs, Backward backward) {}

  private static void rule(Map<String, Rule> m, Backward backward, String... ops) {
    for (String op : ops) {
      if (m.put(op, new Rule(false, backward)) != null) {
        throw new IllegalStateException("two gradient rules for " + op);
      }
    }
  }

  private static Map<String, Rule> rules() {
    Map<String, Rule> m = new HashMap<>();
    // elementwise ops and activations
    rule(m, GradientRun::elementwise, "Add", "Sub", "Mul", "Div", "Sum");
    rule(m, GradientRun::pow, "Pow");
    rule(m, GradientRun::whereGrad, "Where");
    rule(m, GradientRun::castGrad, "Cast");
    rule(m, GradientRun::negGrad, "Neg");
    rule(m, GradientRun::expGrad, "Exp");
    rule(m, GradientRun::logGrad, "Log");
    rule(m, GradientRun::sqrtGrad, "Sqrt");
    rule(m, GradientRun::reciprocalGrad, "Reciprocal");
    rule(m, GradientRun::absGrad, "Abs");
    rule(m, GradientRun::erfGrad, "Erf");
    rule(m, GradientRun::reluGrad, "Relu");
    rule(m, GradientRun::leakyReluGrad, "LeakyRelu");
    rule(m, GradientRun::preluGrad, "PRelu");
    rule(m, GradientRun::clipGrad, "Clip");
    rule(m, GradientRun::sigmoidGrad, "Sigmoid");
    rule(m, GradientRun::tanhGrad, "Tanh");
    rule(m, GradientRun::hardSigmoidGrad, "HardSigmoid");
    rule(m, GradientRun::hardSwishGrad, "HardSwish");
    rule(m, GradientRun::gelu, "Gelu");
    rule(m, GradientRun::softmaxGrad, "Softmax");
    rule(m, GradientRun::logSoftmaxGrad, "LogSoftmax");
    rule(m, GradientRun::reduceGrad, "ReduceSum", "ReduceMean");
    // convolutions, products and pools (GlobalMaxPool is rewritten to a MaxPool over the whole
    // plane by the forward preparation, so MaxPool's rule differentiates it)
    rule(m, GradientRun::conv, "Conv");
    rule(m, GradientRun::gemm, "Gemm");
    rule(m, GradientRun::matmul, "MatMul");
    rule(m, GradientRun::maxPool, "MaxPool", "GlobalMaxPool");
    rule(m, GradientRun::averagePool, "AveragePool");
    rule(m, GradientRun::globalAveragePoolGrad, "GlobalAveragePool");
    // shape ops (Dropout is the identity in inference)
    rule(m, GradientRun::identityGrad, "Identity", "Dropout");
    rule(m, GradientRun::reshapeGrad, "Flatten", "Reshape", "Squeeze", "Unsqueeze");
    rule(m, GradientRun::transposeGrad, "Transpose");
    rule(m, GradientRun::expandGrad, "Expand");
    rule(m, GradientRun::concat, "Concat");
    m.put("Split", new Rule(true, (run, n, dy) -> run.splitGrad(n)));
    rule(m, GradientRun::slice, "Slice");
    rule(m, GradientRun::gather, "Gather");
    rule(m, GradientRun::pad, "Pad");
    rule(m, GradientRun::resize, "Resize");
    // normalisations
    rule(m, GradientRun::batchNormalizationGrad, "BatchNormalization");
    rule(m, GradientRun::layerNorm, "LayerNormalization");
    return Map.copyOf(m);
  }

  // ===================================================================================== one run

  private final ModelProto forward;
  private final LossHead head;
  private final GraphProto g;
  private final List<GradientGraph.Note> notes = new ArrayList<>();
  private final Map<String, String> renames = new HashMap<>();
  private final Set<String> allNames = new HashSet<>();
  private final Shapes shapes = new Shapes();
  private final Set<String> dep = new HashSet<>();
  private final Map<String, List<String>> contributions = new HashMap<>();
  private Emitter e;
  private final Map<String, TensorProto> initializers = new HashMap<>();
  private GraphBuilder b;
  private final Map<String, NodeProto> producers = new HashMap<>();
  private final Set<String> premasked = new HashSet<>();
  private List<NodeProto> emittedNodes = List.of();
  /** Whether a QuantizeLinear stopped the gradient on the path (straight-through off). */
  private boolean stopped;

  GradientRun(ModelProto forward, LossHead head) {
    this.forward = forward;
    this.head = head;
    this.g = forward.getGraph();
  }

  void note(NoteCode code, String message) {
    notes.add(new GradientGraph.Note(code, message));
  }

  GradientGraph run() {
    OnnxModels.check(forward, "forward model");
    long opset = OnnxModels.defaultOpset(forward);
    if (opset < 13) {
      throw new OnnxModelException("forward model uses opset " + opset
          + "; the input-gradient builder needs opset 13 or newer (re-export the model with"
          + " opset >= 13)");
    }
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      if (GraphIndex.hasSubgraph(n)) {
        throw unsupported(n, i, "it contains a subgraph (control flow is not differentiated)");
      }
    }
    List<ValueInfoProto> ins = OnnxModels.dataInputs(g);
    if (ins.size() != 1) {
      throw new OnnxModelException("forward model has " + ins.size() + " inputs "
          + ins.stream().map(ValueInfoProto::getName).toList()
          + "; the input-gradient graph needs exactly one image input");
    }
    ValueInfoProto in0 = ins.get(0);
    int elem = in0.getType().getTensorType().getElemType();
    if (elem != Tensors.FLOAT) {
      throw new OnnxModelException("forward model input '" + in0.getName()
          + "' has element type " + elem + "; expected float32 (1)");
    }
    long[] inDims = Tensors.declaredDims(in0);
    if (inDims == null || inDims.length < 2) {
      throw new OnnxModelException("forward model input '" + in0.getName()
          + "' must declare a shape (N, ...) of rank >= 2, e.g. (N,C,H,W)");
    }
    if (inDims[0] > 0) {
      note(NoteCode.FIXED_BATCH,
          "the forward model declares a fixed batch size " + inDims[0] + " for input '"
          + in0.getName() + "'; the gradient model declares a symbolic batch axis, but a batch"
          + " size hard-coded inside the graph (e.g. Reshape to [" + inDims[0] + ",-1]) would"
          + " still only accept batches of " + inDims[0]);
    }
    inDims[0] = -1;

    // ---- names: the input becomes "input"; forward tensors using reserved names are renamed
    collectNames();
    renames.put(in0.getName(), INPUT);
    for (String r : RESERVED) {
      if (allNames.contains(r) && !r.equals(in0.getName())) {
        renames.put(r, fresh("fwd_" + r));
      }
    }
    allNames.add(INPUT);
    List<NodeProto> sorted = topoSort();
    checkArity(sorted);

    // ---- shape inference over the whole forward graph
    for (TensorProto t : g.getInitializerList()) {
      shapes.addInitializer(t.toBuilder().setName(rn(t.getName())).build());
      initializers.put(rn(t.getName()), t);
    }
    shapes.putShape(INPUT, inDims);
    for (NodeProto n : sorted) {
      shapes.infer(n);
    }

    // ---- find the logits (skip a final Softmax / LogSoftmax)
    GraphIndex index = GraphIndex.of(sorted);
    if (g.getOutputCount() > 1) {
      note(NoteCode.MULTIPLE_OUTPUTS,
          "the forward model has " + g.getOutputCount() + " outputs; the first, '"
          + g.getOutput(0).getName() + "', is taken as the logits");
    }
    String logitsT = findLogits(index.outputHead(rn(g.getOutput(0).getName())));
    if (logitsT.equals(INPUT)) {
      throw new OnnxModelException("forward model output is its input; nothing to differentiate");
    }

    // ---- prune to the logits' ancestors
    boolean[] keep = index.ancestors(logitsT);
    List<NodeProto> kept = new ArrayList<>();
    for (int i = 0; i < sorted.size(); i++) {
      if (keep[i]) {
        kept.add(sorted.get(i));
      }
    }

    // ---- which tensors depend on the input
    dep.add(INPUT);
    for (NodeProto n : kept) {
      if (!n.getInputList().stream().anyMatch(dep::contains)) {
        continue;
      }
      boolean rounding = GraphIndex.ROUNDING_OPS.contains(n.getOpType());
      if ((rounding || GraphIndex.SHAPE_OPS.contains(n.getOpType())) && n.getDomain().isEmpty()) {
        if (rounding) {
          note(NoteCode.GRADIENT_STOPPER,
              "node '" + n.getName() + "' (" + n.getOpType() + ") lies on the path from"
              + " the input to the logits; its derivative is zero almost everywhere, so no"
              + " gradient flows through it (gradient masking: white-box results are not"
              + " trustworthy)");
        }
        continue;
      }
      if (n.getOpType().equals("QuantizeLinear") && n.getDomain().isEmpty()) {
        stopped = true;
        note(NoteCode.QUANTIZE_STOPS_GRADIENT,
            "node '" + n.getName() + "' (QuantizeLinear) lies on the path from the input"
            + " to the logits and straight-through gradients are switched off: its derivative"
            + " is zero almost everywhere, so no gradient flows through it (gradient masking:"
            + " white-box results are not trustworthy)");
        continue;
      }
      if (n.getOpType().equals("Cast") && n.getDomain().isEmpty()
          && !GraphIndex.FLOAT_TYPES.contains(intAttr(n, "to", 0))) {
        note(NoteCode.NON_FLOAT_CAST,
            "node '" + n.getName() + "' (Cast to data type " + intAttr(n, "to", 0)
            + ") casts a tensor that depends on the input to a non-float type; no gradient"
            + " flows through it (gradient masking: white-box results are not trustworthy)");
        continue;
      }
      n.getOutputList().stream().filter(o -> !o.isEmpty()).forEach(dep::add);
    }
    if (!dep.contains(logitsT) && !stopped) {
      throw new OnnxModelException("the forward model's logits '" + logitsT
          + "' do not depend on its input; nothing to differentiate");
    }
    for (int i = 0; i < kept.size(); i++) {
      NodeProto n = kept.get(i);
      boolean onPath = n.getOutputList().stream().anyMatch(dep::contains);
      if (onPath && (!n.getDomain().isEmpty() || !SUPPORTED.contains(n.getOpType()))) {
        throw unsupported(n, i, "it lies on the path from the input to the logits");
      }
    }
    long[] ls = shapes.shape(logitsT);
    if (ls != null && ls.length != 2) {
      throw new OnnxModelException("the forward model's logits '" + logitsT + "' have shape "
          + dimsText(ls) + "; expected (N,K)");
    }
    int k = ls != null && ls[1] > 0 ? (int) ls[1] : -1;
    int minK = LossHeads.minClasses(head);
    if (k > 0 && k < minK) {
      throw new OnnxModelException("loss head " + head + " needs at least " + minK
          + " classes, the model has " + k);
    }

    // ---- emit the forward part
    b = new GraphBuilder(g.getName().isEmpty() ? "gradient" : g.getName() + "_gradient");
    e = new Emitter(b);
    b.producer("arat-onnx gradient builder", "");
    b.input(INPUT, Tensors.FLOAT, declaredDimObjects(in0));
    b.input(LABELS, Tensors.INT64, GraphBuilder.BATCH);
    if (head.targeted()) {
      b.input(TARGETS, Tensors.INT64, GraphBuilder.BATCH);
    }
    Set<String> used = new HashSet<>();
    kept.forEach(n -> n.getInputList().forEach(used::add));
    for (TensorProto t : g.getInitializerList()) {
      String name = rn(t.getName());
      if (used.contains(name)) {
        String actual = b.initializer(t.toBuilder().setName(name).build());
        if (!actual.equals(name)) {
          throw new OnnxModelException("forward model: initializer name '" + name
              + "' is used twice");
        }
      }
    }
    List<NodeProto> emitted = new ArrayList<>();
    for (NodeProto n : kept) {
      NodeProto e = prepareForward(n);
      b.appendRaw(e);
      emitted.add(e);
    }
    for (NodeProto n : emitted) {
      if (n.getOpType().equals("MaxPool") && n.getOutputCount() > 1) {
        shapes.putShape(n.getOutput(1), shapes.shape(n.getOutput(0)));
      }
      if (n.getOpType().equals("LayerNormalization")) {
        shapes.infer(n);
      }
    }

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
      Rule rule = RULES.get(n.getOpType());
      if (rule != null && rule.allOutputs()) {
        rule.backward().apply(this, n, null);
        continue;
      }
      if (!dep.contains(n.getOutput(0))) {
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
    if (gin == null && stopped) {
      gin = op(Op.MUL, INPUT, fconst(0f)); // the exact derivative through a QuantizeLinear
    }
    if (gin == null) {
      throw new OnnxModelException("internal error: no gradient reached the input");
    }
    Object[] inDimObjs = declaredDimObjects(in0);
    b.output(logitsT, LOGITS, Tensors.FLOAT, GraphBuilder.BATCH, k > 0 ? k : null);
    b.output(gin, INPUT_GRAD, Tensors.FLOAT, inDimObjs);
    b.output(LOSS, Tensors.FLOAT, GraphBuilder.BATCH);
    for (StringStringEntryProto e : forward.getMetadataPropsList()) {
      b.metadata(e.getKey(), e.getValue());
    }
    b.metadata("arat.gradient.head", head.id());
    b.metadata("arat.gradient.logits", logitsT);
    ModelProto m = b.build(IR_VERSION, (int) Math.max(OPSET, opset));
    if (opset > OPSET) {
      note(NoteCode.OPSET_KEPT,
          "the forward model uses opset " + opset + " > " + OPSET
          + "; the gradient model keeps opset " + opset);
    }
    return new GradientGraph(m, head, logitsT, inDims, k, notes);
  }

  // ------------------------------------------------------------------------------ names

  private void collectNames() {
    g.getInputList().forEach(v -> allNames.add(v.getName()));
    g.getInitializerList().forEach(t -> allNames.add(t.getName()));
    for (NodeProto n : g.getNodeList()) {
      allNames.addAll(n.getInputList());
      allNames.addAll(n.getOutputList());
    }
    allNames.addAll(RESERVED);
  }

  private String fresh(String hint) {
    String name = hint;
    int i = 1;
    while (allNames.contains(name)) {
      name = hint + "_" + i++;
    }
    allNames.add(name);
    return name;
  }

  private String rn(String t) {
    return t.isEmpty() ? t : renames.getOrDefault(t, t);
  }

  private NodeProto renamed(NodeProto n) {
    NodeProto.Builder nb = n.toBuilder().clearInput().clearOutput();
    n.getInputList().forEach(t -> nb.addInput(rn(t)));
    n.getOutputList().forEach(t -> nb.addOutput(rn(t)));
    return nb.build();
  }

  /**
   * Every node whose op type the op table knows has at least the inputs and outputs that its
   * op takes (opset 13 or newer); a node missing them is a corrupt model, and the shape
   * inference (which goes by op type whatever the domain) and the gradient rules below read them
   * without further checks.
   */
  private static void checkArity(List<NodeProto> nodes) {
    for (NodeProto n : nodes) {
      Op op = Op.forOpType(n.getOpType());
      if (op != null && (n.getInputCount() < op.minInputs() || n.getOutputCount() < op.minOutputs())) {
        throw new OnnxModelException("node '" + n.getName() + "' (" + n.getOpType() + ") has "
            + n.getInputCount() + " input(s) and " + n.getOutputCount() + " output(s); "
            + n.getOpType() + " takes at least " + op.minInputs() + " and " + op.minOutputs()
            + " (the model is corrupt)");
      }
    }
  }

  private List<NodeProto> topoSort() {
    List<NodeProto> nodes = new ArrayList<>();
    g.getNodeList().forEach(n -> nodes.add(renamed(n)));
    Map<String, Integer> producer = new HashMap<>();
    for (int i = 0; i < nodes.size(); i++) {
      for (String o : nodes.get(i).getOutputList()) {
        if (!o.isEmpty() && producer.put(o, i) != null) {
          throw new OnnxModelException("forward model: tensor '" + o
              + "' is produced by more than one node");
        }
      }
    }
    int[] indeg = new int[nodes.size()];
    Map<Integer, List<Integer>> users = new HashMap<>();
    for (int i = 0; i < nodes.size(); i++) {
      Set<Integer> preds = new HashSet<>();
      for (String in : nodes.get(i).getInputList()) {
        Integer p = producer.get(in);
        if (p != null && preds.add(p)) {
          indeg[i]++;
          users.computeIfAbsent(p, x -> new ArrayList<>()).add(i);
        }
      }
    }
    PriorityQueue<Integer> ready = new PriorityQueue<>();
    for (int i = 0; i < nodes.size(); i++) {
      if (indeg[i] == 0) {
        ready.add(i);
      }
    }
    List<NodeProto> out = new ArrayList<>();
    while (!ready.isEmpty()) {
      int i = ready.poll();
      out.add(nodes.get(i));
      for (int u : users.getOrDefault(i, List.of())) {
        if (--indeg[u] == 0) {
          ready.add(u);
        }
      }
    }
    if (out.size() != nodes.size()) {
      throw new OnnxModelException("forward model graph has a cycle");
    }
    return out;
  }

  /** The logits: the input of a final Softmax/LogSoftmax over the class axis, noted. */
  private String findLogits(GraphIndex.OutputHead h) {
    NodeProto p = h.softmax();
    if (p != null) {
      String op = p.getOpType();
      long axis = intAttr(p, "axis", -1);
      long[] s = shapes.shape(p.getInput(0));
      boolean last = axis == -1 || (s != null && axis == s.length - 1)
          || (s == null && axis == 1);
      if (last) {
        note(op.equals("Softmax") ? NoteCode.FINAL_SOFTMAX : NoteCode.FINAL_LOG_SOFTMAX,
            "the forward graph ends in " + op + " (node '" + p.getName() + "'); its input '"
            + p.getInput(0) + "' is used as the logits, since the loss heads are defined on"
            + " logits, not " + (op.equals("Softmax") ? "probabilities" : "log-probabilities")
            + (op.equals("LogSoftmax") ? " (every head is shift-invariant, so loss and gradient"
                + " are unchanged; the logits output differs by a per-sample constant)" : ""));
        return p.getInput(0);
      }
    }
    return h.tensor();
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

  private UnsupportedOpException unsupported(NodeProto n, int index, String why) {
    String op = (n.getDomain().isEmpty() ? "" : n.getDomain() + ".") + n.getOpType();
    String name = n.getName().isEmpty() ? "#" + index + " (unnamed)" : n.getName();
    return new UnsupportedOpException(op, name, "operator '" + op + "' (node '" + name
        + "') is not supported by the input-gradient builder: " + why + ". Supported ops: "
        + String.join(", ", SUPPORTED));
  }

  private UnsupportedOpException unsupportedConfig(NodeProto n, String why) {
    String name = n.getName().isEmpty() ? "(unnamed)" : n.getName();
    return new UnsupportedOpException(n.getOpType(), name, "operator '" + n.getOpType()
        + "' (node '" + name + "') is used in a way the input-gradient builder does not"
        + " support: " + why);
  }

  private static String dimsText(long[] s) {
    StringBuilder sb = new StringBuilder("(");
    for (int i = 0; i < s.length; i++) {
      sb.append(i > 0 ? "," : "").append(s[i] < 0 ? "?" : Long.toString(s[i]));
    }
    return sb.append(')').toString();
  }

  // --------------------------------------------------------------------- forward rewrite

  private NodeProto prepareForward(NodeProto n) {
    switch (n.getOpType()) {
      case "Dropout" -> {
        if (n.getOutputCount() > 1 && !n.getOutput(1).isEmpty() && dep.contains(n.getOutput(1))
            && usedElsewhere(n.getOutput(1))) {
          throw unsupportedConfig(n, "its mask output is used");
        }
        return NodeProto.newBuilder().setName(n.getName()).setOpType("Identity")
            .addInput(n.getInput(0)).addOutput(n.getOutput(0)).build();
      }
      case "MaxPool" -> {
        if (!dep.contains(n.getInput(0))) {
          return n;
        }
        if (n.getOutputCount() > 1 && !n.getOutput(1).isEmpty()) {
          if (intAttr(n, "storage_order", 0) != 0) {
            throw unsupportedConfig(n, "its Indices output is used with storage_order=1");
          }
          return n;
        }
        if (blockPoolSize(n) > 0) {
          return n; // backward without Indices (see blockMaxPoolGrad)
        }
        NodeProto.Builder nb = n.toBuilder().clearOutput().addOutput(n.getOutput(0))
            .addOutput(fresh(n.getOutput(0) + "_indices")).clearAttribute();
        for (AttributeProto a : n.getAttributeList()) {
          if (!a.getName().equals("storage_order")) {
            nb.addAttribute(a);
          }
        }
        return nb.build();
      }
      case "GlobalMaxPool" -> {
        if (!dep.contains(n.getInput(0))) {
          return n;
        }
        long[] xs = knownSpatial(n.getInput(0), n);
        return NodeProto.newBuilder().setName(n.getName()).setOpType("MaxPool")
            .addInput(n.getInput(0)).addOutput(n.getOutput(0))
            .addOutput(fresh(n.getOutput(0) + "_indices"))
            .addAttribute(AttributeProto.newBuilder().setName("kernel_shape")
                .setType(AttributeProto.AttributeType.INTS)
                .addAllInts(Arrays.stream(Arrays.copyOfRange(xs, 2, xs.length)).boxed()
                    .toList()))
            .build();
      }
      case "LayerNormalization" -> {
        if (!dep.contains(n.getInput(0))) {
          return n;
        }
        NodeProto.Builder nb = n.toBuilder().clearOutput().addOutput(n.getOutput(0));
        for (int i = 1; i < 3; i++) {
          String o = i < n.getOutputCount() ? n.getOutput(i) : "";
          nb.addOutput(o.isEmpty() ? fresh(n.getOutput(0) + (i == 1 ? "_mean" : "_invstd")) : o);
        }
        return nb.build();
      }
      case "BatchNormalization" -> {
        if (intAttr(n, "training_mode", 0) != 0
            || (n.getOutputCount() > 1 && n.getOutputList().subList(1, n.getOutputCount())
                .stream().anyMatch(o -> !o.isEmpty()))) {
          throw unsupportedConfig(n, "training mode (batch statistics) is not supported; export"
              + " the model in inference mode");
        }
        return n;
      }
      default -> {
        return n;
      }
    }
  }

  private boolean usedElsewhere(String t) {
    return g.getNodeList().stream().anyMatch(x -> x.getInputList().stream()
        .map(this::rn).anyMatch(t::equals));
  }

  // ------------------------------------------------------------------------ small helpers

  private String op(Op op, Map<String, ?> attrs, String... inputs) {
    return e.op(op, attrs, inputs);
  }

  private String op(Op op, String... inputs) {
    return e.op(op, inputs);
  }

  private String fconst(float v) {
    return e.fconst(v);
  }

  private String ivec(long... v) {
    return e.ivec(v);
  }

  private long[] known(String t, NodeProto n, String what) {
    long[] s = shapes.shape(t);
    if (s == null) {
      throw new OnnxModelException("cannot infer the shape of tensor '" + t + "' (" + what
          + " of " + n.getOpType() + " node '" + n.getName() + "'), which its gradient needs;"
          + " give the model input fixed non-batch dimensions");
    }
    return s;
  }

  private long[] knownSpatial(String t, NodeProto n) {
    long[] s = known(t, n, "input");
    for (int i = 1; i < s.length; i++) {
      if (s[i] < 0) {
        throw new OnnxModelException("tensor '" + t + "' (input of " + n.getOpType() + " node '"
            + n.getName() + "') has shape " + dimsText(s) + "; its gradient needs fixed"
            + " channel and spatial sizes");
      }
    }
    if (s.length < 3) {
      throw new OnnxModelException("tensor '" + t + "' (input of " + n.getOpType() + " node '"
          + n.getName() + "') has rank " + s.length + ", expected (N,C,spatial...)");
    }
    return s;
  }

  private void addGrad(String t, String grad) {
    contributions.computeIfAbsent(t, x -> new ArrayList<>()).add(grad);
  }

  private String total(String t) {
    List<String> c = contributions.get(t);
    if (c == null || c.isEmpty()) {
      return null;
    }
    if (c.size() == 1) {
      return c.get(0);
    }
    return b.node(Op.SUM, c, Map.of());
  }

  private String shapeOf(String t) {
    return op(Op.SHAPE, t);
  }

  /**
   * Sums a gradient of static shape {@code gs} down to the shape of {@code operand} (numpy
   * broadcasting in reverse): leading extra axes and axes where the operand has size 1.
   */
  private String unbroadcast(String grad, long[] gs, String operand, NodeProto n) {
    long[] os = known(operand, n, "operand");
    if (gs == null) {
      throw new OnnxModelException("cannot infer the output shape of " + n.getOpType()
          + " node '" + n.getName() + "', which its gradient needs");
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
      res = b.node(Op.REDUCE_SUM, List.of(grad, ivec(axes.stream().mapToLong(Long::longValue)
          .toArray())), Map.of("keepdims", 1));
    }
    if (r != ro) {
      res = op(Op.RESHAPE, res, shapeOf(operand));
    }
    return res;
  }

  private void requireConstant(NodeProto n, int... inputIdx) {
    for (int i : inputIdx) {
      if (i < n.getInputCount() && dep.contains(n.getInput(i))) {
        throw unsupportedConfig(n, "its input " + i + " ('" + n.getInput(i)
            + "') depends on the model input; only input 0 may");
      }
    }
  }

  // ----------------------------------------------------------------------- backward rules

  private void identityGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    addGrad(x, dy);
  }

  private void reshapeGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    if (dep.contains(x)) {
      addGrad(x, op(Op.RESHAPE, dy, shapeOf(x)));
    }
  }

  private void transposeGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    long[] xs = known(x, n, "input");
    long[] p = Shapes.perm(n, xs.length);
    long[] inv = new long[p.length];
    for (int i = 0; i < p.length; i++) {
      inv[(int) p[i]] = i;
    }
    addGrad(x, op(Op.TRANSPOSE, Map.of("perm", inv), dy));
  }

  private void reluGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    if (premasked.contains(y)) {
      addGrad(x, dy); // the mask was applied by the MaxPool after it
    } else {
      // mask from the output: y > 0 iff x > 0, and as y >= 0, Sign(y) is that 0/1 mask
      // (Mul+Sign is cheaper in ORT than Where+Greater, and not reading x lets ORT fuse
      // the Relu into the Conv before it)
      addGrad(x, op(Op.MUL, dy, op(Op.SIGN, y)));
    }
  }

  private void leakyReluGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    float alpha = floatAttr(n, "alpha", 0.01f);
    addGrad(x, op(Op.WHERE, op(Op.GREATER, x, fconst(0f)), dy,
        op(Op.MUL, dy, fconst(alpha))));
  }

  private void sigmoidGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    addGrad(x, op(Op.MUL, dy, op(Op.MUL, y, op(Op.SUB, fconst(1f), y))));
  }

  private void tanhGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    addGrad(x, op(Op.MUL, dy, op(Op.SUB, fconst(1f), op(Op.MUL, y, y))));
  }

  private void softmaxGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    long axis = intAttr(n, "axis", -1);
    String dot = b.node(Op.REDUCE_SUM, List.of(op(Op.MUL, dy, y), ivec(axis)),
        Map.of("keepdims", 1));
    addGrad(x, op(Op.MUL, y, op(Op.SUB, dy, dot)));
  }

  private void reduceGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    long[] xs = known(x, n, "input");
    long[] axes = shapes.reduceAxes(n, xs.length);
    if (axes == null) {
      throw unsupportedConfig(n, "its axes are not constant");
    }
    if (axes.length == 0) {
      addGrad(x, dy);
      return;
    }
    String gk = intAttr(n, "keepdims", 1) != 0 ? dy : op(Op.UNSQUEEZE, dy, ivec(axes));
    if (n.getOpType().equals("ReduceMean")) {
      long count = 1;
      for (long a : axes) {
        if (xs[(int) a] < 0) {
          throw new OnnxModelException("ReduceMean node '" + n.getName() + "' averages"
              + " over axis " + a + " of unknown size; its gradient needs a fixed size");
        }
        count *= xs[(int) a];
      }
      gk = op(Op.MUL, gk, fconst(1f / count));
    }
    addGrad(x, op(Op.EXPAND, gk, shapeOf(x)));
  }

  private void globalAveragePoolGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    long[] xs = knownSpatial(x, n);
    long hw = 1;
    for (int i = 2; i < xs.length; i++) {
      hw *= xs[i];
    }
    addGrad(x, op(Op.EXPAND, op(Op.MUL, dy, fconst(1f / hw)), shapeOf(x)));
  }

  private void batchNormalizationGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    requireConstant(n, 1, 2, 3, 4);
    long[] xs = known(x, n, "input");
    float eps = floatAttr(n, "epsilon", 1e-5f);
    String factor = op(Op.DIV, n.getInput(1),
        op(Op.SQRT, op(Op.ADD, n.getInput(4), fconst(eps))));
    long[] shape = new long[Math.max(1, xs.length - 1)];
    Arrays.fill(shape, 1);
    shape[0] = -1;
    addGrad(x, op(Op.MUL, dy, op(Op.RESHAPE, factor, ivec(shape))));
  }

  private void negGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    addGrad(x, op(Op.NEG, dy));
  }

  private void expGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    addGrad(x, op(Op.MUL, dy, y));
  }

  private void logGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    addGrad(x, op(Op.DIV, dy, x));
  }

  private void sqrtGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    addGrad(x, op(Op.DIV, op(Op.MUL, dy, fconst(0.5f)), y));
  }

  private void reciprocalGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    addGrad(x, op(Op.NEG, op(Op.MUL, dy, op(Op.MUL, y, y))));
  }

  private void absGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    addGrad(x, op(Op.MUL, dy, op(Op.SIGN, x)));
  }

  private void erfGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    addGrad(x, op(Op.MUL, dy, op(Op.MUL, fconst((float) (2 / Math.sqrt(Math.PI))),
      op(Op.EXP, op(Op.NEG, op(Op.MUL, x, x))))));
  }

  private void preluGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    requireConstant(n, 1);
    addGrad(x, op(Op.WHERE, op(Op.GREATER, x, fconst(0f)), dy,
        op(Op.MUL, dy, n.getInput(1))));
  }

  private void clipGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    requireConstant(n, 1, 2);
    String mask = null;
    if (n.getInputCount() > 1 && !n.getInput(1).isEmpty()) {
      mask = op(Op.GREATER, x, n.getInput(1));
    }
    if (n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
      String hi = op(Op.LESS, x, n.getInput(2));
      mask = mask == null ? hi : op(Op.AND, mask, hi);
    }
    addGrad(x, mask == null ? dy : op(Op.WHERE, mask, dy, fconst(0f)));
  }

  private void hardSigmoidGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    float alpha = floatAttr(n, "alpha", 0.2f);
    float beta = floatAttr(n, "beta", 0.5f);
    String v = op(Op.ADD, op(Op.MUL, x, fconst(alpha)), fconst(beta));
    String mask = op(Op.AND, op(Op.GREATER, v, fconst(0f)), op(Op.LESS, v, fconst(1f)));
    addGrad(x, op(Op.WHERE, mask, op(Op.MUL, dy, fconst(alpha)), fconst(0f)));
  }

  private void hardSwishGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    // d/dx x*hardsigmoid(x) = 0 below -3, x/3 + 1/2 on [-3, 3], 1 above (as PyTorch)
    String mid = op(Op.MUL, dy, op(Op.ADD, op(Op.MUL, x, fconst(1f / 3)), fconst(0.5f)));
    addGrad(x, op(Op.WHERE, op(Op.LESS, x, fconst(-3f)), fconst(0f),
        op(Op.WHERE, op(Op.LESS_OR_EQUAL, x, fconst(3f)), mid, dy)));
  }

  private void logSoftmaxGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    long axis = intAttr(n, "axis", -1);
    String s = b.node(Op.REDUCE_SUM, List.of(dy, ivec(axis)), Map.of("keepdims", 1));
    addGrad(x, op(Op.SUB, dy, op(Op.MUL, op(Op.EXP, y), s)));
  }

  private void castGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    if (intAttr(n, "to", 0) != Tensors.FLOAT) {
      throw unsupportedConfig(n, "only Cast to float32 is differentiated on the path from"
          + " the input to the logits (to=" + intAttr(n, "to", 0) + ")");
    }
    addGrad(x, dy);
  }

  private void expandGrad(NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    long[] ys = shapes.shape(y);
    addGrad(x, unbroadcast(dy, ys, x, n));
  }

  private void whereGrad(NodeProto n, String dy) {
    String y = n.getOutput(0);
    long[] ys = shapes.shape(y);
    String c = n.getInput(0);
    if (dep.contains(n.getInput(1))) {
      addGrad(n.getInput(1), unbroadcast(op(Op.WHERE, c, dy, fconst(0f)), ys,
          n.getInput(1), n));
    }
    if (dep.contains(n.getInput(2))) {
      addGrad(n.getInput(2), unbroadcast(op(Op.WHERE, c, fconst(0f), dy), ys,
          n.getInput(2), n));
    }
  }

  private void gelu(NodeProto n, String dy) {
    String x = n.getInput(0);
    String mode = stringAttr(n, "approximate", "none");
    String d;
    if (mode.equals("tanh")) {
      // y = x/2 (1 + tanh u), u = c (x + 0.044715 x^3), c = sqrt(2/pi)
      float c = (float) Math.sqrt(2 / Math.PI);
      String x2 = op(Op.MUL, x, x);
      String u = op(Op.MUL, op(Op.MUL, x, op(Op.ADD, fconst(1f), op(Op.MUL, x2,
          fconst(0.044715f)))), fconst(c));
      String t = op(Op.TANH, u);
      String du = op(Op.MUL, op(Op.ADD, fconst(1f), op(Op.MUL, x2, fconst(3 * 0.044715f))),
          fconst(c));
      d = op(Op.ADD, op(Op.MUL, op(Op.ADD, fconst(1f), t), fconst(0.5f)),
          op(Op.MUL, op(Op.MUL, op(Op.MUL, x, fconst(0.5f)), op(Op.SUB, fconst(1f),
              op(Op.MUL, t, t))), du));
    } else if (mode.equals("none")) {
      // Phi(x) + x phi(x)
      String cdf = op(Op.MUL, op(Op.ADD, fconst(1f), op(Op.ERF,
          op(Op.MUL, x, fconst((float) (1 / Math.sqrt(2)))))), fconst(0.5f));
      String pdf = op(Op.MUL, op(Op.EXP, op(Op.MUL, op(Op.MUL, x, x), fconst(-0.5f))),
          fconst((float) (1 / Math.sqrt(2 * Math.PI))));
      d = op(Op.ADD, cdf, op(Op.MUL, x, pdf));
    } else {
      throw unsupportedConfig(n, "unknown approximate='" + mode + "'");
    }
    addGrad(x, op(Op.MUL, dy, d));
  }

  private void pow(NodeProto n, String dy) {
    String a = n.getInput(0);
    String e = n.getInput(1);
    long[] ys = shapes.shape(n.getOutput(0));
    String ef = b.node(Op.CAST, List.of(e), Map.of("to", Tensors.FLOAT));
    if (dep.contains(a)) {
      String ga = op(Op.MUL, dy, op(Op.MUL, ef, op(Op.POW, a, op(Op.SUB, ef, fconst(1f)))));
      addGrad(a, unbroadcast(ga, ys, a, n));
    }
    if (dep.contains(e)) {
      String ge = op(Op.MUL, dy, op(Op.MUL, n.getOutput(0), op(Op.LOG, a)));
      addGrad(e, unbroadcast(ge, ys, e, n));
    }
  }

  private int axisOf(NodeProto n, long axis, int rank) {
    int a = (int) (axis < 0 ? axis + rank : axis);
    if (a < 0 || a >= rank) {
      throw new OnnxModelException(n.getOpType() + " node '" + n.getName() + "': axis " + axis
          + " is out of range for rank " + rank);
    }
    return a;
  }

  private void concat(NodeProto n, String dy) {
    long[] ys = known(n.getOutput(0), n, "output");
    int a = axisOf(n, intAttr(n, "axis", 0), ys.length);
    List<String> parts = new ArrayList<>();
    long[] sizes = new long[n.getInputCount()];
    boolean allKnown = true;
    for (int i = 0; i < n.getInputCount(); i++) {
      long[] s = shapes.shape(n.getInput(i));
      sizes[i] = s == null ? -1 : s[a];
      allKnown &= sizes[i] >= 0;
      parts.add(b.node(Op.SHAPE, List.of(n.getInput(i)), Map.of("start", a, "end", a + 1)));
    }
    String split = allKnown ? ivec(sizes) : b.node(Op.CONCAT, parts, Map.of("axis", 0));
    List<String> outs = b.node(Op.SPLIT, List.of(dy, split), Map.of("axis", a),
        n.getInputCount());
    for (int i = 0; i < n.getInputCount(); i++) {
      if (dep.contains(n.getInput(i))) {
        addGrad(n.getInput(i), outs.get(i));
      }
    }
  }

  private void splitGrad(NodeProto n) {
    boolean any = false;
    for (String o : n.getOutputList()) {
      any |= !o.isEmpty() && contributions.containsKey(o);
    }
    if (!any || !dep.contains(n.getInput(0))) {
      return;
    }
    long[] xs = known(n.getInput(0), n, "input");
    int a = axisOf(n, intAttr(n, "axis", 0), xs.length);
    List<String> parts = new ArrayList<>();
    for (String o : n.getOutputList()) {
      String g = o.isEmpty() ? null : total(o);
      if (g == null) {
        if (o.isEmpty()) {
          throw unsupportedConfig(n, "an omitted output cannot be given a zero gradient");
        }
        g = op(Op.CONSTANT_OF_SHAPE, op(Op.SHAPE, o));
      }
      parts.add(g);
    }
    addGrad(n.getInput(0), parts.size() == 1 ? parts.get(0)
        : b.node(Op.CONCAT, parts, Map.of("axis", a)));
  }

  /** The adjoint of Pad-by-zeros: a Pad of {@code g} with per-axis begin/end (zero pads). */
  private String zeroPad(String g, long[] begin, long[] end) {
    long[] pads = new long[2 * begin.length];
    boolean any = false;
    for (int i = 0; i < begin.length; i++) {
      pads[i] = begin[i];
      pads[i + begin.length] = end[i];
      any |= begin[i] != 0 || end[i] != 0;
    }
    return any ? op(Op.PAD, g, ivec(pads)) : g;
  }

  /**
   * Multiplies {@code g} along {@code axis} by the matrix {@code m} (rows x cols): the axis of
   * size {@code rows} becomes one of size {@code cols}, out[c] = sum_r g[r] m[r][c].
   */
  private String axisMatMul(String g, int axis, int rank, float[] m, long rows, long cols) {
    String mat = b.floatInitializer("axis_map", m, rows, cols);
    if (axis == rank - 1) {
      return op(Op.MAT_MUL, g, mat);
    }
    long[] perm = new long[rank];
    for (int i = 0; i < rank; i++) {
      perm[i] = i;
    }
    perm[axis] = rank - 1;
    perm[rank - 1] = axis;
    String t = op(Op.TRANSPOSE, Map.of("perm", perm), g);
    return op(Op.TRANSPOSE, Map.of("perm", perm), op(Op.MAT_MUL, t, mat));
  }

  /**
   * The adjoint of selecting indices {@code idx} (in [0,d)) along {@code axis}: a zero Pad for
   * a contiguous ascending run, else a product with the (|idx| x d) one-hot selection matrix
   * (repeated indices add up).
   */
  private String unselect(String g, int axis, int rank, long[] idx, long d) {
    boolean contiguous = true;
    for (int i = 1; i < idx.length; i++) {
      contiguous &= idx[i] == idx[i - 1] + 1;
    }
    if (contiguous && idx.length > 0) {
      long[] begin = new long[rank];
      long[] end = new long[rank];
      begin[axis] = idx[0];
      end[axis] = d - idx[0] - idx.length;
      return zeroPad(g, begin, end);
    }
    float[] m = new float[(int) (idx.length * d)];
    for (int i = 0; i < idx.length; i++) {
      m[(int) (i * d + idx[i])] += 1f;
    }
    return axisMatMul(g, axis, rank, m, idx.length, d);
  }

  private void slice(NodeProto n, String dy) {
    String x = n.getInput(0);
    requireConstant(n, 1, 2, 3, 4);
    long[] xs = known(x, n, "input");
    List<Shapes.AxisSlice> sl = shapes.slices(n, xs);
    if (sl == null) {
      throw unsupportedConfig(n, "its starts, ends, axes and steps must be constants and the"
          + " sliced axes of its input must have fixed sizes");
    }
    long[] begin = new long[xs.length];
    long[] end = new long[xs.length];
    String g = dy;
    for (Shapes.AxisSlice a : sl) {
      if (a.count() == 0) {
        return; // empty slice: no gradient
      }
      long d = xs[a.axis()];
      if (a.step() == 1) {
        begin[a.axis()] = a.start();
        end[a.axis()] = d - a.start() - a.count();
      } else {
        long[] idx = new long[(int) a.count()];
        for (int i = 0; i < idx.length; i++) {
          idx[i] = a.start() + i * a.step();
        }
        g = unselect(g, a.axis(), xs.length, idx, d);
      }
    }
    addGrad(x, zeroPad(g, begin, end));
  }

  private void gather(NodeProto n, String dy) {
    String x = n.getInput(0);
    requireConstant(n, 1);
    long[] xs = known(x, n, "data");
    int a = axisOf(n, intAttr(n, "axis", 0), xs.length);
    long[] idx = shapes.value(n.getInput(1));
    long[] is = shapes.shape(n.getInput(1));
    long d = xs[a];
    if (idx == null || is == null || d < 0 || Arrays.stream(idx).anyMatch(v -> v == Shapes.UNKNOWN)) {
      throw unsupportedConfig(n, "its indices must be a constant and the gathered axis of its"
          + " data must have a fixed size");
    }
    long[] norm = new long[idx.length];
    for (int i = 0; i < idx.length; i++) {
      norm[i] = idx[i] < 0 ? idx[i] + d : idx[i];
      if (norm[i] < 0 || norm[i] >= d) {
        throw new OnnxModelException("Gather node '" + n.getName() + "': index " + idx[i]
            + " is out of range for axis size " + d);
      }
    }
    String g;
    if (is.length == 0) {
      g = op(Op.UNSQUEEZE, dy, ivec(a));
    } else if (is.length == 1) {
      g = dy;
    } else {
      List<String> parts = new ArrayList<>();
      if (a > 0) {
        parts.add(b.node(Op.SHAPE, List.of(x), Map.of("start", 0, "end", a)));
      }
      parts.add(ivec(norm.length));
      if (a + 1 < xs.length) {
        parts.add(b.node(Op.SHAPE, List.of(x), Map.of("start", a + 1)));
      }
      g = op(Op.RESHAPE, dy, parts.size() == 1 ? parts.get(0)
          : b.node(Op.CONCAT, parts, Map.of("axis", 0)));
    }
    addGrad(x, unselect(g, a, xs.length, norm, d));
  }

  private void pad(NodeProto n, String dy) {
    String x = n.getInput(0);
    requireConstant(n, 1, 2, 3);
    long[] xs = known(x, n, "input");
    long[] pads = shapes.value(n.getInput(1));
    long[] axes = n.getInputCount() > 3 && !n.getInput(3).isEmpty()
        ? shapes.value(n.getInput(3)) : null;
    long[][] pe = pads == null ? null : Shapes.padsPerAxis(pads, axes, xs.length);
    if (pe == null || (n.getInputCount() > 3 && !n.getInput(3).isEmpty() && axes == null)) {
      throw unsupportedConfig(n, "its pads (and axes) must be constants");
    }
    String mode = stringAttr(n, "mode", "constant");
    int r = xs.length;
    if (mode.equals("constant")) {
      // negative pads crop: undo them with zero pads, then cut the positive pads away
      long[] nb = new long[r];
      long[] ne = new long[r];
      long[] starts = new long[r];
      long[] ends = new long[r];
      boolean cut = false;
      for (int i = 0; i < r; i++) {
        nb[i] = Math.max(0, -pe[0][i]);
        ne[i] = Math.max(0, -pe[1][i]);
        starts[i] = Math.max(0, pe[0][i]);
        ends[i] = pe[1][i] > 0 ? -pe[1][i] : Long.MAX_VALUE;
        cut |= pe[0][i] > 0 || pe[1][i] > 0;
      }
      String g = zeroPad(dy, nb, ne);
      if (cut) {
        long[] ax = new long[r];
        for (int i = 0; i < r; i++) {
          ax[i] = i;
        }
        g = b.node(Op.SLICE, List.of(g, ivec(starts), ivec(ends), ivec(ax)), Map.of());
      }
      addGrad(x, g);
      return;
    }
    if (!mode.equals("reflect") && !mode.equals("edge") && !mode.equals("wrap")) {
      throw unsupportedConfig(n, "unknown mode '" + mode + "'");
    }
    String g = dy;
    for (int a = 0; a < r; a++) {
      if (pe[0][a] == 0 && pe[1][a] == 0) {
        continue;
      }
      long d = xs[a];
      if (d <= 0) {
        throw unsupportedConfig(n, "padded axis " + a + " must have a fixed size");
      }
      long out = d + pe[0][a] + pe[1][a];
      long[] idx = new long[(int) out];
      for (int o = 0; o < out; o++) {
        long i = o - pe[0][a];
        if (mode.equals("edge")) {
          i = Math.max(0, Math.min(d - 1, i));
        } else if (mode.equals("wrap")) {
          i = Math.floorMod(i, d);
        } else {
          if (d == 1) {
            i = 0;
          } else {
            long period = 2 * (d - 1);
            i = Math.floorMod(i, period);
            if (i >= d) {
              i = period - i;
            }
          }
        }
        idx[o] = i;
      }
      g = unselect(g, a, r, idx, d);
    }
    addGrad(x, g);
  }

  private void resize(NodeProto n, String dy) {
    String x = n.getInput(0);
    requireConstant(n, 1, 2, 3);
    String mode = stringAttr(n, "mode", "nearest");
    String ctm = stringAttr(n, "coordinate_transformation_mode", "half_pixel");
    String nm = stringAttr(n, "nearest_mode", "round_prefer_floor");
    if (!mode.equals("nearest") && !mode.equals("linear")) {
      throw unsupportedConfig(n, "mode '" + mode + "' (only nearest and linear are supported)");
    }
    if (intAttr(n, "antialias", 0) != 0 || GraphIndex.attr(n, "axes") != null) {
      throw unsupportedConfig(n, "antialias and axes (opset 18) are not supported");
    }
    if (!List.of("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
        "half_pixel_symmetric").contains(ctm)) {
      throw unsupportedConfig(n, "coordinate_transformation_mode '" + ctm + "'");
    }
    long[] xs = known(x, n, "input");
    long[] ys = shapes.shape(n.getOutput(0));
    float[] scales = n.getInputCount() > 2 && !n.getInput(2).isEmpty()
        ? shapes.floatValue(n.getInput(2)) : null;
    if (scales != null && scales.length == 0) {
      scales = null;
    }
    if (ys == null || (scales == null && (n.getInputCount() < 4 || n.getInput(3).isEmpty()))) {
      throw unsupportedConfig(n, "its scales or sizes must be constants");
    }
    String g = dy;
    for (int a = 0; a < xs.length; a++) {
      long d = xs[a];
      long o = ys[a];
      float scale = scales != null ? scales[a] : (d > 0 ? (float) o / (float) d : 1f);
      if (o == d && scale == 1f) {
        continue;
      }
      if (d <= 0 || o <= 0) {
        throw unsupportedConfig(n, "resized axis " + a + " must have a fixed size");
      }
      float[] m = new float[(int) (o * d)];
      for (int i = 0; i < o; i++) {
        float c = sourceCoordinate(ctm, i, scale, d, o);
        if (mode.equals("nearest")) {
          long j = nearest(nm, c);
          j = Math.max(0, Math.min(d - 1, j));
          m[(int) (i * d + j)] += 1f;
        } else {
          float cc = Math.max(0f, Math.min(c, d - 1));
          long j0 = Math.min((long) cc, d - 1);
          long j1 = Math.min(j0 + 1, d - 1);
          float w1 = cc - j0;
          m[(int) (i * d + j0)] += 1f - w1;
          m[(int) (i * d + j1)] += w1;
        }
      }
      g = axisMatMul(g, a, xs.length, m, o, d);
    }
    addGrad(x, g);
  }

  private static float sourceCoordinate(String ctm, long i, float scale, long d, long o) {
    return switch (ctm) {
      case "asymmetric" -> i / scale;
      case "align_corners" -> o == 1 ? 0f : i * (float) (d - 1) / (float) (o - 1);
      case "pytorch_half_pixel" -> o > 1 ? (i + 0.5f) / scale - 0.5f : 0f;
      case "half_pixel_symmetric" -> {
        float adj = o / (scale * d);
        float offset = d / 2f * (1 - adj);
        yield offset + (i + 0.5f) / scale - 0.5f;
      }
      default -> (i + 0.5f) / scale - 0.5f; // half_pixel
    };
  }

  private static long nearest(String mode, float c) {
    return switch (mode) {
      case "floor" -> (long) Math.floor(c);
      case "ceil" -> (long) Math.ceil(c);
      case "round_prefer_ceil" -> (long) Math.floor(c + 0.5f);
      default -> c == Math.floor(c) + 0.5f ? (long) Math.floor(c) : Math.round(c);
    };
  }

  private void layerNorm(NodeProto n, String dy) {
    String x = n.getInput(0);
    requireConstant(n, 1, 2);
    long[] xs = known(x, n, "input");
    int a = axisOf(n, intAttr(n, "axis", -1), xs.length);
    long count = 1;
    long[] axes = new long[xs.length - a];
    for (int i = a; i < xs.length; i++) {
      if (xs[i] < 0) {
        throw new OnnxModelException("LayerNormalization node '" + n.getName() + "' normalises"
            + " over axis " + i + " of unknown size; its gradient needs fixed sizes");
      }
      count *= xs[i];
      axes[i - a] = i;
    }
    String mean = n.getOutput(1);
    String inv = n.getOutput(2);
    String xhat = op(Op.MUL, op(Op.SUB, x, mean), inv);
    String gs = op(Op.MUL, dy, n.getInput(1));
    String ax = ivec(axes);
    String m1 = op(Op.MUL, b.node(Op.REDUCE_SUM, List.of(gs, ax), Map.of("keepdims", 1)),
        fconst(1f / count));
    String m2 = op(Op.MUL, b.node(Op.REDUCE_SUM, List.of(op(Op.MUL, gs, xhat), ax),
        Map.of("keepdims", 1)), fconst(1f / count));
    addGrad(x, op(Op.MUL, inv, op(Op.SUB, op(Op.SUB, gs, m1), op(Op.MUL, xhat, m2))));
  }

  private void elementwise(NodeProto n, String dy) {
    long[] ys = shapes.shape(n.getOutput(0));
    String op = n.getOpType();
    for (int i = 0; i < n.getInputCount(); i++) {
      String in = n.getInput(i);
      if (!dep.contains(in)) {
        continue;
      }
      String gi;
      switch (op) {
        case "Add", "Sum" -> gi = dy;
        case "Sub" -> gi = i == 0 ? dy : op(Op.NEG, dy);
        case "Mul" -> gi = op(Op.MUL, dy, n.getInput(1 - i));
        case "Div" -> gi = i == 0 ? op(Op.DIV, dy, n.getInput(1))
            : op(Op.NEG, op(Op.DIV, op(Op.MUL, dy, n.getOutput(0)), n.getInput(1)));
        default -> throw new IllegalStateException(op);
      }
      addGrad(in, unbroadcast(gi, ys, in, n));
    }
  }

  private void gemm(NodeProto n, String dy) {
    String a = n.getInput(0);
    String bb = n.getInput(1);
    float alpha = floatAttr(n, "alpha", 1f);
    float beta = floatAttr(n, "beta", 1f);
    long ta = intAttr(n, "transA", 0);
    long tb = intAttr(n, "transB", 0);
    if (dep.contains(a)) {
      String da = ta == 0
          ? b.node(Op.GEMM, List.of(dy, bb), Map.of("alpha", alpha, "transB", tb == 0 ? 1 : 0))
          : b.node(Op.GEMM, List.of(bb, dy), Map.of("alpha", alpha, "transA", tb, "transB", 1));
      addGrad(a, da);
    }
    if (dep.contains(bb)) {
      String db = tb == 0
          ? b.node(Op.GEMM, List.of(a, dy), Map.of("alpha", alpha, "transA", ta == 0 ? 1 : 0))
          : b.node(Op.GEMM, List.of(dy, a), Map.of("alpha", alpha, "transA", 1, "transB", ta));
      addGrad(bb, db);
    }
    if (n.getInputCount() > 2 && !n.getInput(2).isEmpty() && dep.contains(n.getInput(2))) {
      String dc = beta == 1f ? dy : op(Op.MUL, dy, fconst(beta));
      addGrad(n.getInput(2), unbroadcast(dc, shapes.shape(n.getOutput(0)), n.getInput(2), n));
    }
  }

  private void matmul(NodeProto n, String dy) {
    String a = n.getInput(0);
    String bb = n.getInput(1);
    long[] as = known(a, n, "input A");
    long[] bs = known(bb, n, "input B");
    long[] ys = shapes.shape(n.getOutput(0));
    if (as.length < 2 || bs.length < 2 || ys == null) {
      throw unsupportedConfig(n, "1-D operands are not supported (shapes " + dimsText(as)
          + " and " + dimsText(bs) + ")");
    }
    if (dep.contains(a)) {
      String da = op(Op.MAT_MUL, dy, op(Op.TRANSPOSE, Map.of("perm", swapLast(bs.length)), bb));
      long[] gs = ys.clone();
      gs[gs.length - 2] = as[as.length - 2];
      gs[gs.length - 1] = as[as.length - 1];
      addGrad(a, unbroadcast(da, gs, a, n));
    }
    if (dep.contains(bb)) {
      String db = op(Op.MAT_MUL, op(Op.TRANSPOSE, Map.of("perm", swapLast(as.length)), a), dy);
      long[] gs = ys.clone();
      gs[gs.length - 2] = bs[bs.length - 2];
      gs[gs.length - 1] = bs[bs.length - 1];
      addGrad(bb, unbroadcast(db, gs, bb, n));
    }
  }

  private static long[] swapLast(int rank) {
    long[] p = new long[rank];
    for (int i = 0; i < rank; i++) {
      p[i] = i;
    }
    p[rank - 1] = rank - 2;
    p[rank - 2] = rank - 1;
    return p;
  }

  private void conv(NodeProto n, String dy) {
    requireConstant(n, 1, 2);
    String x = n.getInput(0);
    String w = n.getInput(1);
    long[] xs = knownSpatial(x, n);
    long[] ws = known(w, n, "weight");
    long[] sp = Arrays.copyOfRange(xs, 2, xs.length);
    long[] k = intsAttr(n, "kernel_shape");
    if (k == null) {
      k = Arrays.copyOfRange(ws, 2, ws.length);
    }
    Shapes.Window win = Shapes.window(n, sp, k, false);
    Map<String, Object> attrs = new LinkedHashMap<>();
    attrs.put("kernel_shape", k);
    attrs.put("strides", win.strides());
    attrs.put("dilations", win.dilations());
    attrs.put("pads", win.pads());
    attrs.put("output_padding", checkedOutputPadding(n, win));
    attrs.put("group", intAttr(n, "group", 1));
    String flipped = Arrays.stream(win.strides()).allMatch(v -> v == 1)
        && xs[1] > CONV_TRANSPOSE_MAX_CHANNELS
        ? flippedAdjoint(w, ws, (int) intAttr(n, "group", 1)) : null;
    long[] adjPads = new long[2 * sp.length];
    boolean padsOk = true;
    for (int i = 0; i < sp.length; i++) {
      long span = (k[i] - 1) * win.dilations()[i];
      adjPads[i] = span - win.padBegin()[i];
      adjPads[i + sp.length] = span - win.padEnd()[i];
      padsOk &= adjPads[i] >= 0 && adjPads[i + sp.length] >= 0;
    }
    if (flipped != null && padsOk) {
      // stride 1: the adjoint is a plain Conv with the spatially flipped, in/out-swapped kernel
      // (ONNX Runtime runs Conv far faster than ConvTranspose)
      Map<String, Object> ca = new LinkedHashMap<>();
      ca.put("kernel_shape", k);
      ca.put("dilations", win.dilations());
      ca.put("pads", adjPads);
      ca.put("group", intAttr(n, "group", 1));
      addGrad(x, b.node(Op.CONV, List.of(dy, flipped), ca));
      return;
    }
    addGrad(x, b.node(Op.CONV_TRANSPOSE, List.of(dy, w), attrs));
  }

  /**
   * The kernel of the stride-1 adjoint convolution: W (M, C/g, k...) becomes W' (C, M/g, k...)
   * with W'[g*C/g + c, m, i...] = W[g*M/g + m, c, (k-1-i)...]; null if W is not a float32
   * initializer (then ConvTranspose is used).
   */
  private String flippedAdjoint(String w, long[] ws, int group) {
    TensorProto t = initializers.get(w);
    if (t == null || t.getDataType() != Tensors.FLOAT || ws.length < 3) {
      return null;
    }
    float[] src = Tensors.toFloatArray(t);
    int m = (int) ws[0];
    int cg = (int) ws[1];
    int mg = m / group;
    int ksize = 1;
    for (int i = 2; i < ws.length; i++) {
      ksize *= (int) ws[i];
    }
    float[] dst = new float[src.length];
    for (int gi = 0; gi < group; gi++) {
      for (int mm = 0; mm < mg; mm++) {
        for (int c = 0; c < cg; c++) {
          int from = ((gi * mg + mm) * cg + c) * ksize;
          int to = ((gi * cg + c) * mg + mm) * ksize;
          for (int q = 0; q < ksize; q++) {
            dst[to + ksize - 1 - q] = src[from + q]; // reversing the flat kernel flips all axes
          }
        }
      }
    }
    long[] shape = ws.clone();
    shape[0] = (long) cg * group;
    shape[1] = mg;
    return b.floatInitializer(w + "_adjoint", dst, shape);
  }

  private long[] checkedOutputPadding(NodeProto n, Shapes.Window win) {
    long[] op = win.outputPadding();
    for (int i = 0; i < op.length; i++) {
      if (op[i] < 0 || op[i] >= Math.max(win.strides()[i], win.dilations()[i])) {
        throw unsupportedConfig(n, "cannot express its adjoint as ConvTranspose (output"
            + " padding " + op[i] + " on spatial axis " + i + ")");
      }
    }
    return op;
  }

  /**
   * The block size k if MaxPool node n pools disjoint k x k blocks that tile its 4-D input
   * exactly (kernel k x k, strides k, no padding, dilations 1, H and W multiples of k); else 0.
   */
  private long blockPoolSize(NodeProto n) {
    long[] xs = shapes.shape(n.getInput(0));
    long[] k = intsAttr(n, "kernel_shape");
    if (xs == null || xs.length != 4 || k == null || k.length != 2 || k[0] != k[1]) {
      return 0;
    }
    for (int i = 1; i < 4; i++) {
      if (xs[i] <= 0) {
        return 0;
      }
    }
    long[] sp = {xs[2], xs[3]};
    Shapes.Window win = Shapes.window(n, sp, k, intAttr(n, "ceil_mode", 0) != 0);
    for (int i = 0; i < 2; i++) {
      if (win.strides()[i] != k[i] || win.dilations()[i] != 1 || win.padBegin()[i] != 0
          || win.padEnd()[i] != 0 || sp[i] % k[i] != 0) {
        return 0;
      }
    }
    return k[0];
  }

  /**
   * Nearest-neighbour k-fold upsampling of t (N,C,h,w) to (N,C,hk,wk), xs = (N,C,hk,wk). The
   * Resize sees a one-channel view (N*C,1,h,w) so that ORT's NCHWc transformer leaves it (and
   * the ops around it) in plain NCHW: in NCHWc the full-size result would need a ReorderOutput,
   * which costs more than the Resize.
   */
  private String upsample(String t, long k, long[] xs) {
    String scales = e.cached("up" + k,
        () -> b.floatInitializer("up_scales", new float[] {1f, 1f, k, k}, 4));
    String flat = op(Op.RESHAPE, t, ivec(-1, 1, xs[2] / k, xs[3] / k));
    String up = b.node(Op.RESIZE, List.of(flat, "", scales), Map.of("mode", "nearest",
        "coordinate_transformation_mode", "asymmetric", "nearest_mode", "floor"));
    return op(Op.RESHAPE, up, ivec(-1, xs[1], xs[2], xs[3]));
  }

  /**
   * MaxPool backward for disjoint k x k blocks (see {@link #blockPoolSize}) without the Indices
   * output, whose ORT kernel is slow. With up() the nearest-neighbour k-fold upsampling, the
   * window maxima of x are where x == up(y) (y the forward pool's own output); each gets the code
   * k*k - (its row-major position in the window), others 0; a k x k MaxPool of the codes picks
   * the first maximum of each window, and the window's gradient goes to the position whose code
   * equals it (the rule of the Indices path). If x is the output of a Relu read only by this
   * pool, the Relu's mask is applied here at the pooled size (the chosen position has x = y, so
   * x &gt; 0 iff y &gt; 0) and the Relu passes the gradient through unchanged.
   */
  private void blockMaxPoolGrad(NodeProto n, String dy, long k) {
    String x = n.getInput(0);
    String p = n.getOutput(0);
    long[] xs = shapes.shape(x);
    int hh = (int) xs[2];
    int ww = (int) xs[3];
    String g = dy;
    NodeProto relu = producers.get(x);
    if (relu != null && relu.getOpType().equals("Relu") && consumers(x) == 1) {
      g = op(Op.MUL, dy, op(Op.SIGN, p)); // p >= 0: Sign(p) is the 0/1 mask (p > 0)
      premasked.add(x);
    }
    float[] code = new float[hh * ww];
    for (int i = 0; i < hh; i++) {
      for (int j = 0; j < ww; j++) {
        code[i * ww + j] = k * k - ((i % k) * k + (j % k));
      }
    }
    String codes = op(Op.MUL, toFloat(op(Op.EQUAL, x, upsample(p, k, xs))),
        b.floatInitializer("window_code", code, 1, 1, hh, ww));
    Map<String, Object> pa = new LinkedHashMap<>();
    pa.put("kernel_shape", new long[] {k, k});
    pa.put("strides", new long[] {k, k});
    // one-channel view again, to keep this MaxPool (and its input) out of NCHWc
    String first = op(Op.RESHAPE, op(Op.MAX_POOL, pa, op(Op.RESHAPE, codes,
        ivec(-1, 1, hh, ww))), ivec(-1, xs[1], hh / k, ww / k));
    String chosen = toFloat(op(Op.EQUAL, codes, upsample(first, k, xs)));
    addGrad(x, op(Op.MUL, upsample(g, k, xs), chosen));
  }

  private String toFloat(String t) {
    return op(Op.CAST, Map.of("to", (long) Tensors.FLOAT), t);
  }

  private int consumers(String t) {
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

  private void maxPool(NodeProto n, String dy) {
    String x = n.getInput(0);
    if (n.getOutputCount() < 2 || n.getOutput(1).isEmpty()) {
      blockMaxPoolGrad(n, dy, blockPoolSize(n));
      return;
    }
    String indices = n.getOutput(1);
    String zeros = op(Op.CONSTANT_OF_SHAPE, op(Op.RESHAPE, op(Op.SIZE, x), ivec(1)));
    String flat = b.node(Op.SCATTER_ELEMENTS, List.of(zeros, op(Op.RESHAPE, indices, ivec(-1)),
        op(Op.RESHAPE, dy, ivec(-1))), Map.of("axis", 0, "reduction", "add"));
    addGrad(x, op(Op.RESHAPE, flat, shapeOf(x)));
  }

  private void averagePool(NodeProto n, String dy) {
    if (intAttr(n, "ceil_mode", 0) != 0) {
      throw unsupportedConfig(n, "ceil_mode=1 is not supported for AveragePool");
    }
    String x = n.getInput(0);
    long[] xs = knownSpatial(x, n);
    long[] sp = Arrays.copyOfRange(xs, 2, xs.length);
    long[] k = intsAttr(n, "kernel_shape");
    Shapes.Window win = Shapes.window(n, sp, k, false);
    long kprod = 1;
    for (long d : k) {
      kprod *= d;
    }
    boolean padded = Arrays.stream(win.padBegin()).anyMatch(p -> p > 0)
        || Arrays.stream(win.padEnd()).anyMatch(p -> p > 0);
    String scaled;
    if (intAttr(n, "count_include_pad", 0) != 0 || !padded) {
      scaled = op(Op.MUL, dy, fconst(1f / kprod));
    } else {
      // 1 / (number of non-pad input positions in each window), shape (1,1,out...)
      long[] out = win.out();
      int total = (int) Tensors.numel(out);
      float[] inv = new float[total];
      for (int idx = 0; idx < total; idx++) {
        long rem = idx;
        long count = 1;
        for (int a = out.length - 1; a >= 0; a--) {
          long o = rem % out[a];
          rem /= out[a];
          long start = o * win.strides()[a] - win.padBegin()[a];
          long end = Math.min(start + k[a], sp[a]);
          count *= Math.max(0, end - Math.max(start, 0));
        }
        inv[idx] = count > 0 ? 1f / count : 0f;
      }
      long[] shape = new long[out.length + 2];
      shape[0] = 1;
      shape[1] = 1;
      System.arraycopy(out, 0, shape, 2, out.length);
      scaled = op(Op.MUL, dy, b.floatInitializer("avgpool_inv_count", inv, shape));
    }
    long c = xs[1];
    float[] ones = new float[(int) (c * kprod)];
    Arrays.fill(ones, 1f);
    long[] wshape = new long[k.length + 2];
    wshape[0] = c;
    wshape[1] = 1;
    System.arraycopy(k, 0, wshape, 2, k.length);
    String w = b.floatInitializer("avgpool_ones", ones, wshape);
    Map<String, Object> attrs = new LinkedHashMap<>();
    attrs.put("kernel_shape", k);
    attrs.put("strides", win.strides());
    attrs.put("pads", win.pads());
    attrs.put("output_padding", checkedOutputPadding(n, win));
    attrs.put("group", c);
    addGrad(x, b.node(Op.CONV_TRANSPOSE, List.of(scaled, w), attrs));
  }

  // ------------------------------------------------------------------------- loss heads

  /** Emits the loss output and returns the gradient of the summed loss w.r.t. the logits. */
}
