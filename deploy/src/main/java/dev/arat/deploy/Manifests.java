package dev.arat.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.run.VariantComparison;
import dev.arat.specs.Specs;
import java.util.Map;

/**
 * The package's {@code manifest.json}: every file with its size and SHA-256, and an in-toto
 * Statement v1 whose subjects are those files and whose predicate ({@value #PREDICATE_TYPE}) is the
 * verdict. Layout (docs/deployment.md):
 *
 * <pre>{@code
 * {"manifest_version": 1,
 *  "files": [{"path": "model.onnx", "size": 12345, "sha256": "..."}, ...],   // sorted by path
 *  "statement": {"_type": "https://in-toto.io/Statement/v1",
 *                "subject": [{"name": "model.onnx", "digest": {"sha256": "..."}}, ...],
 *                "predicateType": "https://arat.dev/certificate/v1",
 *                "predicate": {...}}}
 * }</pre>
 */
final class Manifests {
  /** The manifest's file name. */
  static final String FILE = "manifest.json";

  /** The DSSE envelope's file name. */
  static final String ENVELOPE = "manifest.dsse.json";

  static final String STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
  static final String PREDICATE_TYPE = "https://arat.dev/certificate/v1";

  private Manifests() {}

  /**
   * The suite digest: SHA-256 of the canonical JSON ({@link Json#canonical}) of the suite's
   * settings as report.json records them ({@code suite.settings}).
   */
  static String suiteSha256(Report r) {
    JsonNode settings = Specs.json().valueToTree(r.suite().settings());
    return Hashes.sha256(Json.canonical(settings));
  }

  /** The statement over {@code files} (path, size, sha256 objects) with {@code predicate}. */
  static ObjectNode statement(ArrayNode files, ObjectNode predicate) {
    ObjectNode s = Json.object();
    s.put("_type", STATEMENT_TYPE);
    ArrayNode subjects = s.putArray("subject");
    for (JsonNode f : files) {
      ObjectNode sub = subjects.addObject();
      sub.put("name", f.get("path").asText());
      sub.putObject("digest").put("sha256", f.get("sha256").asText());
    }
    s.put("predicateType", PREDICATE_TYPE);
    s.set("predicate", predicate);
    return s;
  }

  /** The model entry of the predicate: what the report says about one ONNX file. */
  static ObjectNode modelEntry(
      String file,
      String role,
      String canonical,
      Report r,
      String reportPath,
      String reportSha256) {
    ObjectNode m = Json.object();
    m.put("file", file);
    m.put("role", role);
    m.put("model_sha256", canonical);
    m.put("evaluated_file_sha256", r.model().sha256());
    Map<String, String> meta = r.model().metadata();
    if (meta != null && meta.get(VariantComparison.PRECISION_KEY) != null) {
      m.put("precision", meta.get(VariantComparison.PRECISION_KEY));
    }
    m.put("report", reportPath);
    m.put("report_sha256", reportSha256);
    m.put("verdict", Certificate.verdict(r));
    m.put("clean_accuracy", r.cleanAccuracy());
    m.set("clean_accuracy_ci95", interval(r.cleanAccuracyCi95()));
    m.put("robust_accuracy", r.robustAccuracy());
    m.set("robust_accuracy_ci95", interval(r.robustAccuracyCi95()));
    m.set("gates", Specs.json().valueToTree(r.gates()));
    return m;
  }

  static ArrayNode interval(Report.Interval i) {
    ArrayNode a = Json.array();
    a.add(i.low());
    a.add(i.high());
    return a;
  }
}
