package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import dev.arat.evaluator.report.Report;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The certificate an ONNX file of a package carries in its {@code metadata_props}: one entry per
 * field, every key starting with {@value #PREFIX}, every value a string (numbers as Java's {@code
 * Double.toString}, which reads back exactly). It names the model by its {@link ModelDigest
 * canonical digest} (the model without these entries) and repeats the verdict of the report it
 * points to, so a verifier can check the file against the report and the manifest.
 *
 * <p>Fields (key suffixes, in writing order): {@link #FIELDS}.
 *
 * @param fields the field values by key suffix (e.g. {@code robust_accuracy}), in {@link #FIELDS}
 *     order; absent fields are omitted
 */
public record Certificate(Map<String, String> fields) {
  /** Prefix of every certificate key in {@code metadata_props}. */
  public static final String PREFIX = "arat.certificate.";

  /** Version of this layout. */
  public static final String VERSION = "1";

  /**
   * Every field: {@code version}, {@code model_sha256} (canonical digest), {@code model_digest}
   * (its definition, {@value ModelDigest#METHOD}), {@code role} ({@code parent} or {@code
   * variant}), {@code parent_sha256} (canonical digest of the parent; variants only), {@code
   * verdict} ({@code passed}, {@code failed}, {@code untrusted}: this model's report), {@code
   * suite} and {@code suite_sha256}, {@code report} (path in the package) and {@code
   * report_sha256}, {@code clean_accuracy}, {@code robust_accuracy}, {@code
   * robust_accuracy_ci95_low}, {@code robust_accuracy_ci95_high}, {@code samples}, {@code
   * samples_sha256}, {@code dataset}, {@code threat_model} (e.g. {@code Linf eps=0.1}), {@code
   * onnxruntime}, {@code execution_provider}, {@code date} (ISO-8601, UTC).
   */
  public static final List<String> FIELDS =
      List.of(
          "version",
          "model_sha256",
          "model_digest",
          "role",
          "parent_sha256",
          "verdict",
          "suite",
          "suite_sha256",
          "report",
          "report_sha256",
          "clean_accuracy",
          "robust_accuracy",
          "robust_accuracy_ci95_low",
          "robust_accuracy_ci95_high",
          "samples",
          "samples_sha256",
          "dataset",
          "threat_model",
          "onnxruntime",
          "execution_provider",
          "date");

  /** Copies the map, keeping {@link #FIELDS} order. */
  public Certificate {
    Map<String, String> m = new LinkedHashMap<>();
    for (String k : FIELDS) {
      if (fields.get(k) != null) {
        m.put(k, fields.get(k));
      }
    }
    for (String k : fields.keySet()) {
      if (!FIELDS.contains(k)) {
        m.put(
            k,
            fields.get(k)); // unknown fields read from a file are kept, so a verifier can name them
      }
    }
    fields = java.util.Collections.unmodifiableMap(m);
  }

  /** The value of a field, or null. */
  public String get(String field) {
    return fields.get(field);
  }

  /**
   * The fields a report determines, as the certificate writes them; {@link Verifier} compares a
   * certificate with these.
   *
   * @param r the model's report
   * @param reportPath where the report is in the package
   * @param reportSha256 SHA-256 of the report file's bytes
   */
  static Map<String, String> fromReport(Report r, String reportPath, String reportSha256) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("verdict", verdict(r));
    m.put("suite", r.suite().name());
    m.put("suite_sha256", Manifests.suiteSha256(r));
    m.put("report", reportPath);
    m.put("report_sha256", reportSha256);
    m.put("clean_accuracy", Double.toString(r.cleanAccuracy()));
    m.put("robust_accuracy", Double.toString(r.robustAccuracy()));
    m.put("robust_accuracy_ci95_low", Double.toString(r.robustAccuracyCi95().low()));
    m.put("robust_accuracy_ci95_high", Double.toString(r.robustAccuracyCi95().high()));
    m.put("samples", Integer.toString(r.samples()));
    m.put("samples_sha256", r.dataset().samplesSha256());
    m.put("dataset", r.dataset().name());
    m.put("threat_model", r.threatModel().label());
    m.put("onnxruntime", r.tool().onnxruntime());
    m.put("execution_provider", r.tool().executionProvider());
    return m;
  }

  /** {@code passed}, {@code failed} or {@code untrusted}. */
  static String verdict(Report r) {
    return !r.trusted() ? "untrusted" : r.passed() ? "passed" : "failed";
  }

  /** The certificate in {@code model}'s metadata, or null when it has none. */
  public static Certificate read(ModelProto model) {
    Map<String, String> m = new LinkedHashMap<>();
    for (StringStringEntryProto e : model.getMetadataPropsList()) {
      if (e.getKey().startsWith(PREFIX)) {
        m.put(e.getKey().substring(PREFIX.length()), e.getValue());
      }
    }
    return m.isEmpty() ? null : new Certificate(m);
  }

  /** {@code model} with this certificate in place of any it had (other metadata kept, in order). */
  public ModelProto writeInto(ModelProto model) {
    ModelProto.Builder b = ModelDigest.withoutCertificate(model).toBuilder();
    fields.forEach(
        (k, v) ->
            b.addMetadataProps(StringStringEntryProto.newBuilder().setKey(PREFIX + k).setValue(v)));
    return b.build();
  }
}
