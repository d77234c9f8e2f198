package dev.arat.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The graph analysis shared by the gradient builder, the graph scan and the evaluator's classifier:
 * which node produces a tensor, which nodes a tensor needs, which tensors depend on the input, the
 * logits behind a final Softmax, the op classes they agree on, and attribute readers.
 *
 * <p>An index is made over one node list (in any order) and does not change.
 */
public final class GraphIndex {
  /** Ops whose outputs are shape or index computations (or booleans), never differentiable. */
  public static final Set<String> SHAPE_OPS =
      Set.of(
          "Shape",
          "Size",
          "ArgMax",
          "ArgMin",
          "Equal",
          "Greater",
          "GreaterOrEqual",
          "Less",
          "LessOrEqual",
          "Not",
          "And",
          "Or",
          "Xor",
          "NonZero",
          "ConstantOfShape",
          "Constant",
          "Range",
          "IsNaN",
          "IsInf");

  /** Ops whose derivative is zero almost everywhere (rounding). */
  public static final Set<String> ROUNDING_OPS = Set.of("Round", "Floor", "Ceil", "Sign");

  /** Control-flow ops (they carry subgraphs). */
  public static final Set<String> CONTROL_FLOW_OPS = Set.of("Loop", "If", "Scan");

  /** ONNX float element types (float32, float16, double, bfloat16). */
  public static final Set<Long> FLOAT_TYPES = Set.of(1L, 10L, 11L, 16L);

  private final List<NodeProto> nodes;
  private final Map<String, Integer> producer = new HashMap<>();

  private GraphIndex(List<NodeProto> nodes) {
    this.nodes = List.copyOf(nodes);
    for (int i = 0; i < this.nodes.size(); i++) {
      for (String o : this.nodes.get(i).getOutputList()) {
        if (!o.isEmpty()) {
          producer.put(o, i);
        }
      }
    }
  }

  /** Indexes a node list (a later producer of the same tensor wins). */
  public static GraphIndex of(List<NodeProto> nodes) {
    return new GraphIndex(nodes);
  }

  /** The indexed nodes, in the order given. */
  public List<NodeProto> nodes() {
    return nodes;
  }

  /** The index of the node producing {@code tensor}, or -1 (graph input, initializer, unknown). */
  public int producerIndex(String tensor) {
    Integer p = producer.get(tensor);
    return p == null ? -1 : p;
  }

  /**
   * The nodes {@code tensor} needs: {@code result[i]} is true when node {@code i} is an ancestor
   * (its output is read, directly or through other nodes, to compute {@code tensor}).
   */
  public boolean[] ancestors(String tensor) {
    boolean[] keep = new boolean[nodes.size()];
    Deque<String> todo = new ArrayDeque<>(List.of(tensor));
    Set<String> seen = new HashSet<>();
    while (!todo.isEmpty()) {
      String t = todo.pop();
      Integer p = producer.get(t);
      if (!seen.add(t) || p == null || keep[p]) {
        continue;
      }
      keep[p] = true;
      for (String in : nodes.get(p).getInputList()) {
        if (!in.isEmpty()) {
          todo.push(in);
        }
      }
    }
    return keep;
  }

  /**
   * The tensors that depend on {@code sources} (the sources included): a fixed point over the nodes
   * in any order, where the outputs of default-domain {@link #SHAPE_OPS} depend on nothing.
   */
  public Set<String> inputDependent(Collection<String> sources) {
    Set<String> dep = new HashSet<>(sources);
    boolean changed = true;
    while (changed) {
      changed = false;
      for (NodeProto n : nodes) {
        if (SHAPE_OPS.contains(n.getOpType()) && n.getDomain().isEmpty()) {
          continue;
        }
        if (n.getInputList().stream().anyMatch(dep::contains)) {
          for (String o : n.getOutputList()) {
            if (!o.isEmpty() && dep.add(o)) {
              changed = true;
            }
          }
        }
      }
    }
    return dep;
  }

  /**
   * What a graph output is, looking back through Identity and Dropout nodes.
   *
   * @param tensor the output followed back through Identity/Dropout: the last tensor before another
   *     op (the output of {@code softmax} if there is one)
   * @param softmax the Softmax or LogSoftmax node producing {@code tensor}, or null
   * @param softmaxIndex the index of {@code softmax}, or -1
   */
  public record OutputHead(String tensor, NodeProto softmax, int softmaxIndex) {
    /** The logits: the input of the final Softmax/LogSoftmax if there is one, else the tensor. */
    public String logits() {
      return softmax == null ? tensor : softmax.getInput(0);
    }
  }

  /** Follows {@code output} back through Identity/Dropout to a final Softmax/LogSoftmax. */
  public OutputHead outputHead(String output) {
    String t = output;
    Set<String> seen = new HashSet<>();
    while (seen.add(t) && producer.containsKey(t)) {
      int pi = producer.get(t);
      NodeProto p = nodes.get(pi);
      if (p.getInputCount() == 0) {
        break; // a corrupt node; the callers report it
      }
      String op = p.getOpType();
      if (op.equals("Identity") || op.equals("Dropout")) {
        t = p.getInput(0);
      } else if (op.equals("Softmax") || op.equals("LogSoftmax")) {
        return new OutputHead(t, p, pi);
      } else {
        break;
      }
    }
    return new OutputHead(t, null, -1);
  }

  // ------------------------------------------------------------------------ attribute readers

  /** The attribute {@code name} of {@code n}, or null. */
  public static AttributeProto attr(NodeProto n, String name) {
    for (AttributeProto a : n.getAttributeList()) {
      if (a.getName().equals(name)) {
        return a;
      }
    }
    return null;
  }

  /** An int attribute, or {@code dflt} when absent. */
  public static long intAttr(NodeProto n, String name, long dflt) {
    AttributeProto a = attr(n, name);
    return a == null ? dflt : a.getI();
  }

  /** A float attribute, or {@code dflt} when absent. */
  public static float floatAttr(NodeProto n, String name, float dflt) {
    AttributeProto a = attr(n, name);
    return a == null ? dflt : a.getF();
  }

  /** A string attribute (UTF-8), or {@code dflt} when absent. */
  public static String stringAttr(NodeProto n, String name, String dflt) {
    AttributeProto a = attr(n, name);
    return a == null ? dflt : a.getS().toStringUtf8();
  }

  /** An ints attribute, or null when absent. */
  public static long[] intsAttr(NodeProto n, String name) {
    AttributeProto a = attr(n, name);
    return a == null ? null : a.getIntsList().stream().mapToLong(Long::longValue).toArray();
  }

  /** Whether the node carries a subgraph (control flow). */
  public static boolean hasSubgraph(NodeProto n) {
    return n.getAttributeList().stream().anyMatch(a -> a.hasG() || a.getGraphsCount() > 0);
  }
}
