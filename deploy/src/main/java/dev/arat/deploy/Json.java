package dev.arat.deploy;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** JSON trees for the manifest and the canonical text digests are taken over. */
final class Json {
  static final ObjectMapper MAPPER = new ObjectMapper();
  private static final ObjectMapper PRETTY =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private Json() {}

  static ObjectNode object() {
    return JsonNodeFactory.instance.objectNode();
  }

  static ArrayNode array() {
    return JsonNodeFactory.instance.arrayNode();
  }

  /**
   * Parses JSON text; a syntax error is an {@link IllegalArgumentException} naming {@code what}.
   */
  static JsonNode parse(byte[] text, String what) {
    try {
      JsonNode n = MAPPER.readTree(text);
      if (n == null || n.isMissingNode()) {
        throw new IllegalArgumentException(what + " is empty");
      }
      return n;
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException(
          what + " is not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
    }
  }

  /** Indented text with a final newline. */
  static String pretty(JsonNode n) {
    try {
      return PRETTY.writeValueAsString(n) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The canonical text of a JSON value: object keys sorted (by UTF-16 code units), no whitespace,
   * numbers as Jackson writes them; UTF-8.
   */
  static byte[] canonical(JsonNode n) {
    try {
      return MAPPER.writeValueAsString(sorted(n)).getBytes(StandardCharsets.UTF_8);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static JsonNode sorted(JsonNode n) {
    if (n.isObject()) {
      ObjectNode out = object();
      List<String> keys = new ArrayList<>();
      n.fieldNames().forEachRemaining(keys::add);
      Collections.sort(keys);
      for (String k : keys) {
        out.set(k, sorted(n.get(k)));
      }
      return out;
    }
    if (n.isArray()) {
      ArrayNode out = array();
      n.forEach(e -> out.add(sorted(e)));
      return out;
    }
    return n;
  }
}
