package dev.arat.specs;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.InvalidTypeIdException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.yaml.snakeyaml.LoaderOptions;

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

  /**
   * The largest YAML or JSON document arat parses, in characters (256 KiB). Recipes and suites are
   * a few KB; the YAML scanner takes time quadratic in a scalar's length (a 1 MB scalar took 7 s),
   * so larger input is refused before parsing.
   */
  public static final int MAX_DOCUMENT_CHARS = 256 * 1024;

  /** The deepest nesting of mappings and lists arat accepts. */
  public static final int MAX_NESTING_DEPTH = 64;

  private static final StreamReadConstraints LIMITS =
      StreamReadConstraints.builder()
          .maxDocumentLength(MAX_DOCUMENT_CHARS)
          .maxStringLength(MAX_DOCUMENT_CHARS)
          .maxNestingDepth(MAX_NESTING_DEPTH)
          .build();

  private static final ObjectMapper YAML =
      configure(
          new ObjectMapper(
              YAMLFactory.builder()
                  .loaderOptions(yamlLoaderOptions())
                  .streamReadConstraints(LIMITS)
                  .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                  .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                  .build()));
  // JSON (reports, ledgers) is parsed in linear time and may be large (per-sample lists): no size
  // cap
  private static final ObjectMapper JSON =
      configure(
              JsonMapper.builder(
                      JsonFactory.builder()
                          .streamReadConstraints(
                              StreamReadConstraints.builder()
                                  .maxNestingDepth(MAX_NESTING_DEPTH)
                                  .build())
                          .build())
                  .build())
          .enable(SerializationFeature.INDENT_OUTPUT);

  private static LoaderOptions yamlLoaderOptions() {
    LoaderOptions o = new LoaderOptions();
    o.setCodePointLimit(MAX_DOCUMENT_CHARS);
    o.setNestingDepthLimit(MAX_NESTING_DEPTH);
    o.setAllowDuplicateKeys(false);
    o.setMaxAliasesForCollections(10);
    return o;
  }

  private static ObjectMapper configure(ObjectMapper m) {
    m.setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);
    m.enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    m.enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
    m.enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);
    m.enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    // a key given twice is an error, not "the last one wins" (strict YAML, as the README promises)
    m.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    m.configure(MapperFeature.ACCEPT_CASE_INSENSITIVE_ENUMS, true);
    // "3" is not a number and 3.5 is not an integer: say so instead of guessing.
    m.coercionConfigFor(LogicalType.Integer)
        .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
        .setCoercion(CoercionInputShape.Float, CoercionAction.Fail);
    m.coercionConfigFor(LogicalType.Float)
        .setCoercion(CoercionInputShape.String, CoercionAction.Fail);
    m.coercionConfigFor(LogicalType.Boolean)
        .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
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
    return read(file, type, file.getFileName().toString());
  }

  /**
   * Reads a YAML or JSON file into {@code type}; {@code source} names it in error messages.
   *
   * @throws SpecException when the file is missing, larger than {@link #MAX_DOCUMENT_CHARS}, not
   *     UTF-8 text, not valid YAML/JSON, or its content is invalid (naming the field)
   */
  public static <T> T read(Path file, Class<T> type, String source) {
    String text;
    try {
      long size = Files.size(file);
      if (size > MAX_DOCUMENT_CHARS * 4L) { // UTF-8 needs at most 4 bytes a character
        throw new SpecException(source + ": " + tooLarge(size + " bytes"));
      }
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new SpecException(source + ": file not found");
    } catch (CharacterCodingException e) {
      throw new SpecException(
          source
              + ": not "
              + language(source)
              + ": the file is not UTF-8 text"
              + " (binary or corrupt content)",
          e);
    } catch (IOException e) {
      throw new SpecException(source + ": cannot read: " + e.getMessage(), e);
    }
    return parse(text, type, source);
  }

  /** Parses YAML text into {@code type}; {@code source} names it in error messages. */
  public static <T> T parse(String text, Class<T> type, String source) {
    if (text.length() > MAX_DOCUMENT_CHARS) {
      throw new SpecException(source + ": " + tooLarge(text.length() + " characters"));
    }
    if (text.isBlank()) {
      throw new SpecException(source + ": the file is empty");
    }
    return readValue(YAML, text, type, source);
  }

  /** Maps {@code text} with {@code mapper}; null or a Jackson error is a {@link SpecException}. */
  private static <T> T readValue(ObjectMapper mapper, String text, Class<T> type, String source) {
    try {
      T value = mapper.readValue(text, type);
      if (value == null) {
        throw new SpecException(source + ": the file is empty");
      }
      return value;
    } catch (JacksonException e) {
      throw new SpecException(source + ": " + describe(e, source), e);
    }
  }

  private static String tooLarge(String size) {
    return "the file is too large ("
        + size
        + "); recipes, suites and state files may have at most "
        + MAX_DOCUMENT_CHARS
        + " characters";
  }

  /**
   * Parses JSON text (e.g. a {@code report.json}) into {@code type}, as strictly as YAML and with
   * the same messages; {@code source} names it in error messages.
   *
   * @throws SpecException when the text is not JSON, nests too deeply, or does not fit {@code type}
   *     (no size cap: reports list every sample)
   */
  public static <T> T parseJson(String text, Class<T> type, String source) {
    return readValue(JSON, text, type, source);
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

  /** "JSON" for a {@code .json} source, else "YAML": what the user wrote. */
  private static String language(String source) {
    return source.endsWith(".json") ? "JSON" : "YAML";
  }

  /** Turns a Jackson error into {@code path: what is wrong}, in the user's words. */
  static String describe(JacksonException e, String source) {
    String text = describe(e);
    // a last guard: no Java class names or parser internals reach the user
    if (text.contains("`")
        || text.contains("JsonToken")
        || text.contains("CoercionConfig")
        || text.contains("dev.arat.")
        || text.contains("java.")) {
      String at = e instanceof JsonMappingException m ? path(m.getPath()) : "";
      return prefix(at) + "a value of the wrong kind" + location(e);
    }
    return text.replace("not valid YAML", "not valid " + language(source));
  }

  private static String describe(JacksonException e) {
    if (e instanceof UnrecognizedPropertyException u) {
      String at = path(u.getPath().subList(0, u.getPath().size() - 1));
      Collection<Object> known = u.getKnownPropertyIds();
      String knownText =
          known == null
              ? ""
              : ", known keys: "
                  + known.stream().map(String::valueOf).sorted().collect(Collectors.joining(", "));
      return "unknown key '"
          + u.getPropertyName()
          + "'"
          + (at.isEmpty() ? "" : " in " + at)
          + knownText;
    }
    if (e instanceof InvalidTypeIdException t) {
      return prefix(path(t.getPath()))
          + (t.getTypeId() == null
              ? "expected a mapping with a 'type' key"
              : "unknown type '" + t.getTypeId() + "'");
    }
    if (e instanceof ValueInstantiationException v) {
      Throwable cause = v.getCause() != null ? v.getCause() : v;
      String at = path(v.getPath());
      if (!(cause instanceof IllegalArgumentException) || cause.getMessage() == null) {
        return prefix(at) + "a value of the wrong kind or a missing entry" + location(e);
      }
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
      String duplicate = duplicateKey(m.getOriginalMessage());
      if (duplicate != null) {
        return prefix(path(m.getPath())) + duplicate + location(e);
      }
      if (m instanceof MismatchedInputException mi && mi.getTargetType() != null) {
        return prefix(path(m.getPath()))
            + "expected "
            + expected(mi.getTargetType())
            + ", found "
            + found(String.valueOf(mi.getOriginalMessage()))
            + location(e);
      }
      String msg = String.valueOf(m.getOriginalMessage());
      Matcher range = RANGE.matcher(msg);
      if (range.find()) {
        return prefix(path(m.getPath()))
            + range.group(1)
            + " is out of range (a whole number from "
            + range.group(3)
            + " to "
            + range.group(4)
            + ")";
      }
      if (m.getOriginalMessage() == null) {
        return prefix(path(m.getPath())) + "a value of the wrong kind" + location(e);
      }
      int cut = msg.indexOf(" (for ");
      if (cut > 0) {
        msg = msg.substring(0, cut);
      }
      cut = msg.indexOf("\n");
      if (cut > 0) {
        msg = msg.substring(0, cut);
      }
      return prefix(path(m.getPath())) + msg;
    }
    String msg = String.valueOf(e.getOriginalMessage()).strip().split("\n")[0];
    String duplicate = duplicateKey(msg);
    if (duplicate != null) {
      return duplicate + location(e);
    }
    var loc = e.getLocation();
    return "not valid YAML" + (loc != null ? " at line " + loc.getLineNr() : "") + ": " + msg;
  }

  /** Jackson's "Duplicate field 'x'" as "key 'x' is given twice", else null. */
  private static String duplicateKey(String msg) {
    if (msg != null && msg.startsWith("Duplicate field '")) {
      String key = msg.substring("Duplicate field '".length(), Math.max(msg.lastIndexOf('\''), 17));
      return "key '" + key + "' is given twice (each key may appear once)";
    }
    return null;
  }

  private static String location(JacksonException e) {
    var loc = e.getLocation();
    return loc != null && loc.getLineNr() > 0 ? " (line " + loc.getLineNr() + ")" : "";
  }

  /** What a Java type expects, in YAML words. */
  private static String expected(Class<?> t) {
    if (t == Integer.class
        || t == int.class
        || t == Long.class
        || t == long.class
        || t == Short.class
        || t == short.class) {
      return "a whole number";
    }
    if (t == Double.class || t == double.class || t == Float.class || t == float.class) {
      return "a number";
    }
    if (t == Boolean.class || t == boolean.class) {
      return "true or false";
    }
    if (t == String.class || t.isEnum()) {
      return "a name or text";
    }
    if (t.isArray() || Collection.class.isAssignableFrom(t)) {
      return "a list";
    }
    return "a mapping (key: value lines)";
  }

  private static final Pattern TOKEN = Pattern.compile("JsonToken\\.(\\w+)");
  private static final Pattern COERCE =
      Pattern.compile("Cannot coerce (String|Floating-point|Integer) value \\((.*?)\\) to");
  private static final Pattern FROM = Pattern.compile("from (\\w+) value");
  private static final Pattern RANGE =
      Pattern.compile("Numeric value \\((.*?)\\) out of range of (\\w+) \\((.*?) - (.*?)\\)");

  /** The value found where the types did not match, in YAML words, read off Jackson's message. */
  private static String found(String msg) {
    Matcher c = COERCE.matcher(msg);
    if (c.find()) {
      return switch (c.group(1)) {
        case "String" -> "the text " + shorten(c.group(2));
        case "Integer" -> "the whole number " + shorten(c.group(2));
        default -> "the number " + shorten(c.group(2));
      };
    }
    Matcher t = TOKEN.matcher(msg);
    String kind = t.find() ? t.group(1) : "";
    if (kind.isEmpty()) {
      Matcher f = FROM.matcher(msg);
      kind = f.find() ? f.group(1) : "";
    }
    return switch (kind) {
      case "START_ARRAY", "Array" -> "a list";
      case "START_OBJECT", "FIELD_NAME", "Object" -> "a mapping";
      case "VALUE_STRING", "String" -> "text";
      case "VALUE_NUMBER_INT", "Integer", "Number" -> "a number";
      case "VALUE_NUMBER_FLOAT", "Floating-point" -> "a number";
      case "VALUE_TRUE", "VALUE_FALSE", "Boolean" -> "a true/false value";
      case "VALUE_NULL" -> "nothing (null)";
      default -> "a value of another kind";
    };
  }

  private static String shorten(String s) {
    return s.length() <= 40 ? s : s.substring(0, 37) + "...";
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
