package dev.arat.onnx.grad;

import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * The gradient rules, keyed by op type. Each op group registers its rules here: {@link
 * ElementwiseRules} (elementwise ops, activations, reductions), {@link ConvPoolRules}
 * (convolutions, products, pools), {@link ShapeRules} (shape and indexing ops) and {@link
 * NormRules} (normalisations). The supported-op list is this table's key set, so the two cannot
 * drift.
 */
final class GradientRules {
  private GradientRules() {}

  /** The reverse-mode rule of one op: adds the gradient contributions of its inputs. */
  @FunctionalInterface
  interface Backward {
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
  record Rule(boolean allOutputs, Backward backward) {}

  /** The table under construction; each op type may get one rule only. */
  static final class Table {
    private final Map<String, Rule> rules = new HashMap<>();

    /** Registers {@code backward} as the rule of {@code ops}, given the gradient of output 0. */
    void add(Backward backward, String... ops) {
      put(new Rule(false, backward), ops);
    }

    /** Registers {@code backward}, which reads the gradients of all outputs itself. */
    void addAllOutputs(Backward backward, String... ops) {
      put(new Rule(true, backward), ops);
    }

    private void put(Rule rule, String... ops) {
      for (String op : ops) {
        if (rules.put(op, rule) != null) {
          throw new IllegalStateException("two gradient rules for " + op);
        }
      }
    }
  }

  private static final Map<String, Rule> RULES = build();

  /** The op types with a gradient rule, sorted. */
  static final SortedSet<String> SUPPORTED =
      Collections.unmodifiableSortedSet(new TreeSet<>(RULES.keySet()));

  private static Map<String, Rule> build() {
    Table t = new Table();
    ElementwiseRules.register(t);
    ConvPoolRules.register(t);
    ShapeRules.register(t);
    NormRules.register(t);
    return Map.copyOf(t.rules);
  }

  /** The rule of an op type, or null if there is none. */
  static Rule get(String opType) {
    return RULES.get(opType);
  }

  /** An op (or a node with a subgraph) the builder cannot differentiate, with the supported set. */
  static UnsupportedOpException unsupported(NodeProto n, int index, String why) {
    String op = (n.getDomain().isEmpty() ? "" : n.getDomain() + ".") + n.getOpType();
    String name = n.getName().isEmpty() ? "#" + index + " (unnamed)" : n.getName();
    return new UnsupportedOpException(
        op,
        name,
        "operator '"
            + op
            + "' (node '"
            + name
            + "') is not supported by the input-gradient builder: "
            + why
            + ". Supported ops: "
            + String.join(", ", SUPPORTED));
  }

  /** A supported op used in a configuration (attribute, dynamic input...) that is not. */
  static UnsupportedOpException unsupportedConfig(NodeProto n, String why) {
    String name = n.getName().isEmpty() ? "(unnamed)" : n.getName();
    return new UnsupportedOpException(
        n.getOpType(),
        name,
        "operator '"
            + n.getOpType()
            + "' (node '"
            + name
            + "') is used in a way the input-gradient builder does not"
            + " support: "
            + why);
  }
}
