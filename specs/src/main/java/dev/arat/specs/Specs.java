package dev.arat.specs;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.InvalidTypeIdException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.type.LogicalType;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Strict YAML and JSON loading for recipes, suites and architectures.
 *
 * <p>Keys are snake_case. Unknown keys, wrong types and impossible values are errors whose message
 * names the source and the field path, e.g. {@code suite.yaml: attacks[1].steps: must be > 0, was
 * -3}. Loading is safe: no type tags or class names are read from YAML; polymorphic entries choose
 * among a closed set of names ({@code type: pgd}).
 */
public final class Specs {
  private Specs() {}

  private static final ObjectMapper YAML = configure(
      new ObjectMapper(new YAMLFactory()
          .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
          .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)));
  private static final ObjectMapper JSON = configure(JsonMapper.builder().build())
      .enable(SerializationFeature.INDENT_OUTPUT);

  private static ObjectMapper configure(ObjectMapper m) {
    m.setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);
    m.enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    m.enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
    m.enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);
    m.enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    m.configure(MapperFeature.ACCEPT_CASE_INSENSITIVE_ENUMS, true);
    // "3" is not a number and 3.5 is not an integer: say so instead of guessing.
    m.coercionConfigFor(LogicalType.Integer).setCoercion(CoercionInputShape.String, CoercionAction.Fail)
        .setCoercion(CoercionInputShape.Float, CoercionAction.Fail);
    m.coercionConfigFor(LogicalType.Float).setCoercion(CoercionInputShape.String, CoercionAction.Fail);
    m.coercionConfigFor(LogicalType.Boolean).setCoercion(CoercionInputShape.String, CoercionAction.Fail)
        .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail);
    m.setSerializationInclusion(com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL);
    return m;
  }

  /** The shared JSON mapper (snake_case, strict, indented). */
  public static ObjectMapper json() {
    return JSON;
  }

  /** The shared YAML mapper (snake_case, strict). */
  public static ObjectMapper yaml() {
    return YAML;
  }

  /** Reads and validates a training recipe from a YAML file. */
  public static TrainingRecipe readRecipe(Path file) {
    return read(file, TrainingRecipe.class);
  }

  /** Reads and validates an evaluation suite from a YAML file. */
  public static EvaluationSuite readSuite(Path file) {
    return read(file, EvaluationSuite.class);
  }

  /** Reads a YAML (or JSON, a YAML subset) file into {@code type}, with path-naming errors. */
  public static <T> T read(Path file, Class<T> type) {
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new SpecException(file + ": file not found");
    } catch (IOException e) {
      throw new SpecException(file + ": cannot read: " + e.getMessage(), e);
    }
    return parse(text, type, file.getFileName().toString());
  }

  /** Reads a YAML resource from the classpath (built-in recipes and suites). */
  public static <T> T readResource(String resource, Class<T> type) {
    try (InputStream in = Specs.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new SpecException("built-in resource missing: " + resource);
      }
      return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), type, resource);
    } catch (IOException e) {
      throw new SpecException(resource + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** Parses YAML text into {@code type}; {@code source} names it in error messages. */
  public static <T> T parse(String text, Class<T> type, String source) {
    if (text.isBlank()) {
      throw new SpecException(source + ": the file is empty");
    }
    try {
      T value = YAML.readValue(text, type);
      if (value == null) {
        throw new SpecException(source + ": the file is empty");
      }
      return value;
    } catch (JacksonException e) {
      throw new SpecException(source + ": " + describe(e), e);
    }
  }

  /** Writes {@code value} as YAML text. */
  public static String toYaml(Object value) {
    try {
      return YAML.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise " + value.getClass().getSimpleName(), e);
    }
  }

  /** Writes {@code value} as indented JSON text. */
  public static String toJson(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise " + value.getClass().getSimpleName(), e);
    }
  }

  /** Turns a Jackson error into {@code path: what is wrong}. */
  static String describe(JacksonException e) {
    if (e instanceof UnrecognizedPropertyException u) {
      String at = path(u.getPath().subList(0, u.getPath().size() - 1));
      Collection<Object> known = u.getKnownPropertyIds();
      String knownText = known == null ? "" : ", known keys: "
          + known.stream().map(String::valueOf).sorted().collect(Collectors.joining(", "));
      return "unknown key '" + u.getPropertyName() + "'" + (at.isEmpty() ? "" : " in " + at) + knownText;
    }
    if (e instanceof InvalidTypeIdException t) {
      return prefix(path(t.getPath())) + "unknown type '" + t.getTypeId() + "'";
    }
    if (e instanceof ValueInstantiationException v) {
      Throwable cause = v.getCause() != null ? v.getCause() : v;
      String at = path(v.getPath());
      return prefix(at) + cause.getMessage();
    }
    if (e instanceof JsonMappingException m) {
      Throwable root = m;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      if (root instanceof IllegalArgumentException) {
        return prefix(path(m.getPath())) + root.getMessage();
      }
      String msg = m.getOriginalMessage();
      int cut = msg.indexOf(" (for ");
      if (cut > 0) {
        msg = msg.substring(0, cut);
      }
      cut = msg.indexOf("\n");
      if (cut > 0) {
        msg = msg.substring(0, cut);
      }
      return prefix(path(m.getPath())) + simplify(msg);
    }
    String msg = e.getOriginalMessage().strip().split("\n")[0];
    var loc = e.getLocation();
    return "not valid YAML" + (loc != null ? " at line " + loc.getLineNr() : "") + ": " + msg;
  }

  private static String simplify(String msg) {
    if (msg.startsWith("Cannot deserialize value of type `java.lang.Integer`")
        || msg.startsWith("Cannot coerce Floating-point value")) {
      return "expected a whole number: " + msg;
    }
    return msg;
  }

  private static String prefix(String path) {
    return path.isEmpty() ? "" : path + ": ";
  }

  private static String path(List<JsonMappingException.Reference> refs) {
    List<String> parts = new ArrayList<>();
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference r : refs) {
      if (r.getFieldName() != null) {
        if (sb.length() > 0) {
          sb.append('.');
        }
        sb.append(r.getFieldName());
      } else if (r.getIndex() >= 0) {
        sb.append('[').append(r.getIndex()).append(']');
      }
    }
    parts.add(sb.toString());
    return String.join("", parts);
  }
}
