package dev.arat.onnx.grad;

import static dev.arat.onnx.GraphIndex.intAttr;
import static dev.arat.onnx.grad.GradientGraphBuilder.INPUT;
import static dev.arat.onnx.grad.GradientGraphBuilder.INPUT_GRAD;
import static dev.arat.onnx.grad.GradientGraphBuilder.LABELS;
import static dev.arat.onnx.grad.GradientGraphBuilder.LOGITS;
import static dev.arat.onnx.grad.GradientGraphBuilder.LOSS;
import static dev.arat.onnx.grad.GradientGraphBuilder.TARGETS;
import static dev.arat.onnx.grad.GradientRules.unsupported;
import static dev.arat.onnx.grad.GradientRules.unsupportedConfig;
import static dev.arat.onnx.grad.Shapes.dimsText;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.arat.onnx.GraphIndex;
import dev.arat.onnx.NameRegistry;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.onnx.grad.GradientGraph.Note;
import dev.arat.onnx.grad.GradientGraph.NoteCode;
import dev.arat.specs.LossHead;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * The forward graph prepared for differentiation (see {@link GradientGraphBuilder}): checked
 * (opset, one float32 input with a batch axis, no subgraphs, op arity), the input renamed to {@link
 * GradientGraphBuilder#INPUT} and forward tensors with reserved names renamed, sorted
 * topologically, shapes inferred, the logits found (behind a final Softmax/LogSoftmax), pruned to
 * the logits' ancestors, the input-dependent tensors marked, every op on the path checked against
 * the rule table, and nodes rewritten for the gradient (Dropout to Identity, MaxPool with an
 * Indices output, GlobalMaxPool as a MaxPool, LayerNormalization with its statistics outputs).
 */
final class ForwardGraph {
  private static final List<String> RESERVED =
      List.of(INPUT, LABELS, TARGETS, LOGITS, LOSS, INPUT_GRAD);

  private final GraphProto g;
  private final List<Note> notes = new ArrayList<>();
  private final NameRegistry names = new NameRegistry();
  private final Map<String, String> renames = new HashMap<>();
  private final Shapes shapes = new Shapes();
  private final Set<String> dep = new HashSet<>();
  private final Map<String, TensorProto> initializers = new HashMap<>();
  private final Set<String> read = new HashSet<>();
  private final List<NodeProto> nodes = new ArrayList<>();
  private long opset;
  private ValueInfoProto input;
  private long[] inputDims;
  private String logits;
  private int classes;
  private boolean stopped;

  private ForwardGraph(GraphProto g) {
    this.g = g;
  }

  /**
   * Prepares {@code forward} for differentiating {@code head}.
   *
   * @throws UnsupportedOpException if an op on the input-to-logits path has no gradient rule
   * @throws OnnxModelException if the model is malformed or its shapes cannot be resolved
   */
  static ForwardGraph prepare(ModelProto forward, LossHead head) {
    ForwardGraph f = new ForwardGraph(forward.getGraph());
    f.run(forward, head);
    return f;
  }

  /** The default-domain opset of the forward model (13 or newer). */
  long opset() {
    return opset;
  }

  /** The forward model's image input, as declared. */
  ValueInfoProto input() {
    return input;
  }

  /** The input's dimensions with axis 0 (the batch) as -1. */
  long[] inputDims() {
    return inputDims;
  }

  /** The name of the logits tensor (N,K). */
  String logits() {
    return logits;
  }

  /** The number of classes K, or -1 if not known statically. */
  int classes() {
    return classes;
  }

  /** Whether a QuantizeLinear stopped the gradient on the path (straight-through off). */
  boolean stopped() {
    return stopped;
  }

  /** The notes made while preparing, in order. */
  List<Note> notes() {
    return notes;
  }

  /** The kept forward nodes, renamed and rewritten for the gradient, in topological order. */
  List<NodeProto> nodes() {
    return nodes;
  }

  /** The forward model's graph. */
  GraphProto graph() {
    return g;
  }

  /** The tensor's name in the gradient graph. */
  String renamed(String t) {
    return t.isEmpty() ? t : renames.getOrDefault(t, t);
  }

  /** Whether the kept (unrewritten) forward nodes read tensor {@code t} (renamed). */
  boolean read(String t) {
    return read.contains(t);
  }

  /** The shapes (and small constant values) of the forward tensors, by renamed name. */
  Shapes shapes() {
    return shapes;
  }

  /** Whether tensor {@code t} depends on the input (so gets a gradient). */
  boolean dependsOnInput(String t) {
    return dep.contains(t);
  }

  /** The forward initializer of renamed name {@code t}, or null. */
  TensorProto initializer(String t) {
    return initializers.get(t);
  }

  private void note(NoteCode code, String message) {
    notes.add(new Note(code, message));
  }

  private void run(ModelProto forward, LossHead head) {
    OnnxModels.check(forward, "forward model");
    opset = OnnxModels.defaultOpset(forward);
    if (opset < 13) {
      throw new OnnxModelException(
          "forward model uses opset "
              + opset
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
      throw new OnnxModelException(
          "forward model has "
              + ins.size()
              + " inputs "
              + ins.stream().map(ValueInfoProto::getName).toList()
              + "; the input-gradient graph needs exactly one image input");
    }
    ValueInfoProto in0 = ins.get(0);
    input = in0;
    int elem = in0.getType().getTensorType().getElemType();
    if (elem != Tensors.FLOAT) {
      throw new OnnxModelException(
          "forward model input '"
              + in0.getName()
              + "' has element type "
              + elem
              + "; expected float32 (1)");
    }
    long[] inDims = Tensors.declaredDims(in0);
    if (inDims == null || inDims.length < 2) {
      throw new OnnxModelException(
          "forward model input '"
              + in0.getName()
              + "' must declare a shape (N, ...) of rank >= 2, e.g. (N,C,H,W)");
    }
    if (inDims[0] > 0) {
      note(
          NoteCode.FIXED_BATCH,
          "the forward model declares a fixed batch size "
              + inDims[0]
              + " for input '"
              + in0.getName()
              + "'; the gradient model declares a symbolic batch axis, but a batch"
              + " size hard-coded inside the graph (e.g. Reshape to ["
              + inDims[0]
              + ",-1]) would"
              + " still only accept batches of "
              + inDims[0]);
    }
    inDims[0] = -1;
    inputDims = inDims;

    // ---- names: the input becomes "input"; forward tensors using reserved names are renamed
    collectNames();
    renames.put(in0.getName(), INPUT);
    for (String r : RESERVED) {
      if (names.contains(r) && !r.equals(in0.getName())) {
        renames.put(r, names.fresh("fwd_" + r));
      }
    }
    names.add(INPUT);
    List<NodeProto> sorted = topoSort();
    checkArity(sorted);

    // ---- shape inference over the whole forward graph
    for (TensorProto t : g.getInitializerList()) {
      shapes.addInitializer(t.toBuilder().setName(renamed(t.getName())).build());
      initializers.put(renamed(t.getName()), t);
    }
    shapes.putShape(INPUT, inDims);
    for (NodeProto n : sorted) {
      shapes.infer(n);
    }

    // ---- find the logits (skip a final Softmax / LogSoftmax)
    GraphIndex index = GraphIndex.of(sorted);
    if (g.getOutputCount() > 1) {
      note(
          NoteCode.MULTIPLE_OUTPUTS,
          "the forward model has "
              + g.getOutputCount()
              + " outputs; the first, '"
              + g.getOutput(0).getName()
              + "', is taken as the logits");
    }
    String logitsT = findLogits(index.outputHead(renamed(g.getOutput(0).getName())));
    if (logitsT.equals(INPUT)) {
      throw new OnnxModelException("forward model output is its input; nothing to differentiate");
    }
    logits = logitsT;

    // ---- prune to the logits' ancestors
    boolean[] keep = index.ancestors(logitsT);
    List<NodeProto> kept = new ArrayList<>();
    for (int i = 0; i < sorted.size(); i++) {
      if (keep[i]) {
        kept.add(sorted.get(i));
      }
    }

    // ---- which tensors depend on the input
    markInputDependent(kept);
    if (!dep.contains(logitsT) && !stopped) {
      throw new OnnxModelException(
          "the forward model's logits '"
              + logitsT
              + "' do not depend on its input; nothing to differentiate");
    }
    for (int i = 0; i < kept.size(); i++) {
      NodeProto n = kept.get(i);
      boolean onPath = n.getOutputList().stream().anyMatch(dep::contains);
      if (onPath && (!n.getDomain().isEmpty() || GradientRules.get(n.getOpType()) == null)) {
        throw unsupported(n, i, "it lies on the path from the input to the logits");
      }
    }
    long[] ls = shapes.shape(logitsT);
    if (ls != null && ls.length != 2) {
      throw new OnnxModelException(
          "the forward model's logits '"
              + logitsT
              + "' have shape "
              + dimsText(ls)
              + "; expected (N,K)");
    }
    int k = ls != null && ls[1] > 0 ? (int) ls[1] : -1;
    int minK = LossHeads.minClasses(head);
    if (k > 0 && k < minK) {
      throw new OnnxModelException(
          "loss head " + head + " needs at least " + minK + " classes, the model has " + k);
    }
    classes = k;

    // ---- rewrite the kept nodes for the gradient
    kept.forEach(n -> read.addAll(n.getInputList()));
    for (NodeProto n : kept) {
      nodes.add(rewrite(n));
    }
    for (NodeProto n : nodes) {
      if (n.getOpType().equals("MaxPool") && n.getOutputCount() > 1) {
        shapes.putShape(n.getOutput(1), shapes.shape(n.getOutput(0)));
      }
      if (n.getOpType().equals("LayerNormalization")) {
        shapes.infer(n);
      }
    }
  }

  /**
   * Marks the outputs of the kept nodes that depend on the input; rounding ops, shape computations,
   * QuantizeLinear (straight-through off) and Casts to non-float types stop the dependence (with a
   * note where that masks the gradient).
   */
  private void markInputDependent(List<NodeProto> kept) {
    dep.add(INPUT);
    for (NodeProto n : kept) {
      if (!n.getInputList().stream().anyMatch(dep::contains)) {
        continue;
      }
      boolean rounding = GraphIndex.ROUNDING_OPS.contains(n.getOpType());
      if ((rounding || GraphIndex.SHAPE_OPS.contains(n.getOpType())) && n.getDomain().isEmpty()) {
        if (rounding) {
          note(
              NoteCode.GRADIENT_STOPPER,
              "node '"
                  + n.getName()
                  + "' ("
                  + n.getOpType()
                  + ") lies on the path from"
                  + " the input to the logits; its derivative is zero almost everywhere, so no"
                  + " gradient flows through it (gradient masking: white-box results are not"
                  + " trustworthy)");
        }
        continue;
      }
      if (n.getOpType().equals("QuantizeLinear") && n.getDomain().isEmpty()) {
        stopped = true;
        note(
            NoteCode.QUANTIZE_STOPS_GRADIENT,
            "node '"
                + n.getName()
                + "' (QuantizeLinear) lies on the path from the input"
                + " to the logits and straight-through gradients are switched off: its derivative"
                + " is zero almost everywhere, so no gradient flows through it (gradient masking:"
                + " white-box results are not trustworthy)");
        continue;
      }
      if (n.getOpType().equals("Cast")
          && n.getDomain().isEmpty()
          && !GraphIndex.FLOAT_TYPES.contains(intAttr(n, "to", 0))) {
        note(
            NoteCode.NON_FLOAT_CAST,
            "node '"
                + n.getName()
                + "' (Cast to data type "
                + intAttr(n, "to", 0)
                + ") casts a tensor that depends on the input to a non-float type; no gradient"
                + " flows through it (gradient masking: white-box results are not trustworthy)");
        continue;
      }
      n.getOutputList().stream().filter(o -> !o.isEmpty()).forEach(dep::add);
    }
  }

  // ------------------------------------------------------------------------------ names

  private void collectNames() {
    g.getInputList().forEach(v -> names.add(v.getName()));
    g.getInitializerList().forEach(t -> names.add(t.getName()));
    for (NodeProto n : g.getNodeList()) {
      names.addAll(n.getInputList());
      names.addAll(n.getOutputList());
    }
    names.addAll(RESERVED);
  }

  private NodeProto renamed(NodeProto n) {
    NodeProto.Builder nb = n.toBuilder().clearInput().clearOutput();
    n.getInputList().forEach(t -> nb.addInput(renamed(t)));
    n.getOutputList().forEach(t -> nb.addOutput(renamed(t)));
    return nb.build();
  }

  /**
   * Every node whose op type the op table knows has at least the inputs and outputs that its op
   * takes (opset 13 or newer); a node missing them is a corrupt model, and the shape inference
   * (which goes by op type whatever the domain) and the gradient rules read them without further
   * checks.
   */
  private static void checkArity(List<NodeProto> nodes) {
    for (NodeProto n : nodes) {
      Op op = Op.forOpType(n.getOpType());
      if (op != null
          && (n.getInputCount() < op.minInputs() || n.getOutputCount() < op.minOutputs())) {
        throw new OnnxModelException(
            "node '"
                + n.getName()
                + "' ("
                + n.getOpType()
                + ") has "
                + n.getInputCount()
                + " input(s) and "
                + n.getOutputCount()
                + " output(s); "
                + n.getOpType()
                + " takes at least "
                + op.minInputs()
                + " and "
                + op.minOutputs()
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
          throw new OnnxModelException(
              "forward model: tensor '" + o + "' is produced by more than one node");
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
      boolean last = axis == -1 || (s != null && axis == s.length - 1) || (s == null && axis == 1);
      if (last) {
        note(
            op.equals("Softmax") ? NoteCode.FINAL_SOFTMAX : NoteCode.FINAL_LOG_SOFTMAX,
            "the forward graph ends in "
                + op
                + " (node '"
                + p.getName()
                + "'); its input '"
                + p.getInput(0)
                + "' is used as the logits, since the loss heads are defined on"
                + " logits, not "
                + (op.equals("Softmax") ? "probabilities" : "log-probabilities")
                + (op.equals("LogSoftmax")
                    ? " (every head is shift-invariant, so loss and gradient"
                        + " are unchanged; the logits output differs by a per-sample constant)"
                    : ""));
        return p.getInput(0);
      }
    }
    return h.tensor();
  }

  // --------------------------------------------------------------------- forward rewrite

  /** The node as the gradient graph runs it (see the class comment). */
  private NodeProto rewrite(NodeProto n) {
    switch (n.getOpType()) {
      case "Dropout" -> {
        if (n.getOutputCount() > 1
            && !n.getOutput(1).isEmpty()
            && dep.contains(n.getOutput(1))
            && usedElsewhere(n.getOutput(1))) {
          throw unsupportedConfig(n, "its mask output is used");
        }
        return NodeProto.newBuilder()
            .setName(n.getName())
            .setOpType("Identity")
            .addInput(n.getInput(0))
            .addOutput(n.getOutput(0))
            .build();
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
        if (ConvPoolRules.blockPoolSize(shapes, n) > 0) {
          return n; // backward without Indices (see ConvPoolRules.blockMaxPool)
        }
        NodeProto.Builder nb =
            n.toBuilder()
                .clearOutput()
                .addOutput(n.getOutput(0))
                .addOutput(names.fresh(n.getOutput(0) + "_indices"))
                .clearAttribute();
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
        long[] xs = shapes.knownSpatial(n.getInput(0), n);
        return NodeProto.newBuilder()
            .setName(n.getName())
            .setOpType("MaxPool")
            .addInput(n.getInput(0))
            .addOutput(n.getOutput(0))
            .addOutput(names.fresh(n.getOutput(0) + "_indices"))
            .addAttribute(
                AttributeProto.newBuilder()
                    .setName("kernel_shape")
                    .setType(AttributeProto.AttributeType.INTS)
                    .addAllInts(
                        Arrays.stream(Arrays.copyOfRange(xs, 2, xs.length)).boxed().toList()))
            .build();
      }
      case "LayerNormalization" -> {
        if (!dep.contains(n.getInput(0))) {
          return n;
        }
        NodeProto.Builder nb = n.toBuilder().clearOutput().addOutput(n.getOutput(0));
        for (int i = 1; i < 3; i++) {
          String o = i < n.getOutputCount() ? n.getOutput(i) : "";
          nb.addOutput(
              o.isEmpty() ? names.fresh(n.getOutput(0) + (i == 1 ? "_mean" : "_invstd")) : o);
        }
        return nb.build();
      }
      case "BatchNormalization" -> {
        if (intAttr(n, "training_mode", 0) != 0
            || (n.getOutputCount() > 1
                && n.getOutputList().subList(1, n.getOutputCount()).stream()
                    .anyMatch(o -> !o.isEmpty()))) {
          throw unsupportedConfig(
              n,
              "training mode (batch statistics) is not supported; export"
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
    return g.getNodeList().stream()
        .anyMatch(x -> x.getInputList().stream().map(this::renamed).anyMatch(t::equals));
  }
}
