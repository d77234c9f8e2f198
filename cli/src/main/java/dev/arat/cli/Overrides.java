package dev.arat.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arat.specs.SpecException;
import dev.arat.specs.Specs;
import java.util.List;
import java.util.Map;

/**
 * Applies {@code key.path=value} overrides to a recipe or suite and re-validates it with the same
 * strict loader as files, so an override can never produce a value a file could not hold.
 */
final class Overrides {
  private Overrides() {}

  /**
   * Returns {@code spec} with each override applied; values are parsed as YAML scalars or flow
   * collections ({@code 0.1}, {@code true}, {@code [75, 90]}).
   *
   * @throws SpecException naming the override when a key or value is invalid
   */
  static <T> T apply(T spec, Class<T> type, List<String> overrides) {
    if (overrides.isEmpty()) {
      return spec;
    }
    ObjectNode root = Specs.yaml().valueToTree(spec);
    for (String o : overrides) {
      int eq = o.indexOf('=');
      if (eq <= 0) {
        throw new SpecException("--set " + o + ": expected key.path=value");
      }
      String[] path = o.substring(0, eq).trim().split("\\.");
      JsonNode value;
      try {
        value = Specs.yaml().readTree(o.substring(eq + 1));
      } catch (Exception e) {
        throw new SpecException("--set " + o + ": cannot parse the value");
      }
      ObjectNode node = root;
      for (int i = 0; i < path.length - 1; i++) {
        JsonNode child = node.get(path[i]);
        if (child == null || child.isNull()) {
          child = node.putObject(path[i]);
        }
        if (!(child instanceof ObjectNode obj)) {
          throw new SpecException("--set " + o + ": '" + path[i] + "' is not a section");
        }
        node = obj;
      }
      node.set(path[path.length - 1], value == null || value.isMissingNode() ? null : value);
    }
    try {
      return Specs.parse(Specs.yaml().writeValueAsString(root), type, "--set");
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new SpecException("--set: " + e.getOriginalMessage());
    }
  }

  /** Adds {@code key=value} to {@code list} when {@code value} is not null. */
  static void named(List<String> list, Map<String, Object> named) {
    named.forEach(
        (k, v) -> {
          if (v != null) {
            list.add(0, k + "=" + v);
          }
        });
  }
}
