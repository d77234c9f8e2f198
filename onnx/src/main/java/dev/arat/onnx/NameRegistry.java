package dev.arat.onnx;

import java.util.Collection;
import java.util.HashSet;
import java.util.Set;

/**
 * The names used in one graph (tensor names, or node names), and the one rule for making new ones:
 * a hint is taken as is if unused, else the first free {@code hint_1}, {@code hint_2}, ... Used by
 * {@link GraphBuilder} and by the input-gradient builder's forward-graph preparation. Not
 * thread-safe.
 */
public final class NameRegistry {
  private final Set<String> names = new HashSet<>();

  /** Whether {@code name} is used. */
  public boolean contains(String name) {
    return names.contains(name);
  }

  /** Marks {@code name} as used; returns false if it already was. */
  public boolean add(String name) {
    return names.add(name);
  }

  /** Marks all {@code names} as used. */
  public void addAll(Collection<String> more) {
    names.addAll(more);
  }

  /** The first unused name of {@code hint}, {@code hint_1}, {@code hint_2}, ... (not marked). */
  public String unused(String hint) {
    String name = hint;
    int i = 1;
    while (names.contains(name)) {
      name = hint + "_" + i++;
    }
    return name;
  }

  /** A new name derived from {@code hint} (see {@link #unused}), marked as used. */
  public String fresh(String hint) {
    String name = unused(hint);
    names.add(name);
    return name;
  }
}
