package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.ModelProto;
import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.ort.ExecutionProvider;
import dev.arat.evaluator.ort.RuntimeOptions;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.run.SuiteRunner;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.AttackSpec;
import dev.arat.specs.EvaluationSuite;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Verifies a package folder or {@code .tar.gz} built by {@link Packager}: re-hashes every file
 * against {@code manifest.json} (missing, extra, resized or changed files), checks the in-toto
 * statement against the file list, the DSSE signature with a public key, each ONNX file's {@link
 * Certificate} against its canonical digest, the statement and its report, the statement's numbers
 * against the reports, and optionally re-runs the certified suite on the first N certified samples
 * of every model and compares each per-sample outcome with the report's, exactly.
 *
 * <p>Every difference is a {@link Mismatch} naming the file and the field. Unusable input (no
 * package there, an unreadable or unsafe archive, a bad key file) is an {@link EvaluationException}
 * of kind INPUT.
 */
public final class Verifier {
  private static final int MAX_SAMPLE_MISMATCHES = 10;

  /** Verdict: every gate checked and passed. */
  public static final String PASSED = "passed";

  /** Verdict: a gate failed. */
  public static final String FAILED = "failed";

  /** Verdict: the measurement cannot be trusted (a fatal diagnostic). */
  public static final String UNTRUSTED = "untrusted";

  /** Verdict: passed only because no gate was set (or none could be checked). */
  public static final String NO_GATES = "no gates";

  private Verifier() {}

  /**
   * One difference.
   *
   * @param file the package file concerned
   * @param field what differs (e.g. {@code sha256}, {@code arat.certificate.robust_accuracy})
   * @param detail the expected and found values, in words
   */
  public record Mismatch(String file, String field, String detail) {
    /** {@code file: field: detail}. */
    public String line() {
      return file + ": " + field + ": " + detail;
    }
  }

  /**
   * Options.
   *
   * @param publicKey Ed25519 public key (X.509 PEM) the envelope must verify with, or null
   * @param recheck samples to re-run per model (0: none)
   * @param data dataset folder for the recheck (overrides the suite's), or null
   * @param threads ONNX Runtime intra-op threads for the recheck (0: all cores)
   * @param progress where the recheck's progress goes, or null
   */
  public record Options(
      Path publicKey, int recheck, Path data, int threads, PrintStream progress) {}

  /**
   * The outcome.
   *
   * @param dir the package folder checked (for an archive, where it was extracted; deleted after)
   * @param files files re-hashed
   * @param signatureChecked whether a signature was verified
   * @param recheckedSamples samples re-run (over all models)
   * @param mismatches every difference found (empty: verified)
   * @param notes what was not checked and why
   * @param verdict the certified verdict: {@link #PASSED}, {@link #FAILED}, {@link #UNTRUSTED} or
   *     {@link #NO_GATES} (the statement says passed but no gate was checked); meaningful only when
   *     verified
   */
  public record Result(
      Path dir,
      int files,
      boolean signatureChecked,
      int recheckedSamples,
      List<Mismatch> mismatches,
      List<String> notes,
      String verdict) {
    /** True when nothing differs. */
    public boolean verified() {
      return mismatches.isEmpty();
    }
  }

  /** Verifies a package folder or a {@code .tar.gz} of one. */
  public static Result verify(Path input, Options o) {
    if (Files.isDirectory(input)) {
      return verifyFolder(input, o);
    }
    if (!Files.isRegularFile(input)) {
      throw Packager.input(input + " does not exist (give a package folder or its .tar.gz)");
    }
    Path tmp;
    try {
      tmp = Files.createTempDirectory("arat-verify-");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a temporary folder: " + e.getMessage(), e);
    }
    try {
      Path dir;
      try {
        dir = Archive.extract(input, tmp);
      } catch (IllegalArgumentException e) {
        throw Packager.input(e.getMessage());
      }
      return verifyFolder(dir, o);
    } finally {
      deleteTree(tmp);
    }
  }

  private static Result verifyFolder(Path dir, Options o) {
    PublicKey key = null;
    if (o.publicKey() != null) {
      try {
        key = Dsse.readPublicKey(o.publicKey());
      } catch (IllegalArgumentException e) {
        throw Packager.input(e.getMessage());
      }
    }
    Path manifestFile = dir.resolve(Manifests.FILE);
    if (!Files.isRegularFile(manifestFile)) {
      throw Packager.input(dir + " is not an arat package: it has no " + Manifests.FILE);
    }
    JsonNode manifest;
    try {
      manifest = Json.parse(Files.readAllBytes(manifestFile), Manifests.FILE);
    } catch (IOException | IllegalArgumentException e) {
      throw Packager.input(dir + ": " + e.getMessage());
    }
    JsonNode files = manifest.get("files");
    JsonNode statement = manifest.get("statement");
    if (files == null || !files.isArray() || statement == null || !statement.isObject()) {
      throw Packager.input(
          manifestFile + " is not an arat manifest (no 'files' list or 'statement')");
    }
    List<Mismatch> mm = new ArrayList<>();
    List<String> notes = new ArrayList<>();

    // 1. every file: present, size, digest; nothing extra
    Map<String, String> listed = new HashMap<>();
    for (JsonNode f : files) {
      String path = f.path("path").asText("");
      if (path.isEmpty() || path.startsWith("/") || path.contains("\\") || path.contains("..")) {
        mm.add(new Mismatch(Manifests.FILE, "files.path", "unsafe or empty path '" + path + "'"));
        continue;
      }
      String sha = f.path("sha256").asText("");
      listed.put(path, sha);
      Path p = dir.resolve(path);
      if (!Files.isRegularFile(p)) {
        mm.add(new Mismatch(path, "file", "missing (listed in the manifest)"));
        continue;
      }
      try {
        long size = Files.size(p);
        if (size != f.path("size").asLong(-1)) {
          mm.add(
              new Mismatch(
                  path,
                  "size",
                  "manifest says " + f.path("size").asText() + " bytes, the file has " + size));
        }
      } catch (IOException e) {
        mm.add(new Mismatch(path, "file", "unreadable: " + e.getMessage()));
        continue;
      }
      String got = Hashes.sha256(p);
      if (!got.equals(sha)) {
        mm.add(new Mismatch(path, "sha256", "manifest says " + sha + ", the file has " + got));
      }
    }
    try {
      for (String f : Packager.listFiles(dir)) {
        if (!listed.containsKey(f)) {
          mm.add(new Mismatch(f, "file", "extra file, not in the manifest"));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
    }

    // 2. the statement covers exactly the listed files
    if (!Manifests.STATEMENT_TYPE.equals(statement.path("_type").asText())) {
      mm.add(
          new Mismatch(
              Manifests.FILE,
              "statement._type",
              "is '"
                  + statement.path("_type").asText()
                  + "', expected "
                  + Manifests.STATEMENT_TYPE));
    }
    if (!Manifests.PREDICATE_TYPE.equals(statement.path("predicateType").asText())) {
      mm.add(
          new Mismatch(
              Manifests.FILE,
              "statement.predicateType",
              "is '"
                  + statement.path("predicateType").asText()
                  + "', expected "
                  + Manifests.PREDICATE_TYPE));
    }
    Map<String, String> subjects = new HashMap<>();
    for (JsonNode s : statement.path("subject")) {
      subjects.put(s.path("name").asText(), s.path("digest").path("sha256").asText());
    }
    Set<String> names = new LinkedHashSet<>(listed.keySet());
    names.addAll(subjects.keySet());
    for (String n : names.stream().sorted().toList()) {
      if (!Objects.equals(listed.get(n), subjects.get(n))) {
        mm.add(
            new Mismatch(
                Manifests.FILE,
                "statement.subject[" + n + "]",
                "the statement says " + subjects.get(n) + ", the file list says " + listed.get(n)));
      }
    }

    // 3. the signature
    Path envFile = dir.resolve(Manifests.ENVELOPE);
    boolean signatureChecked = false;
    if (key != null) {
      if (!Files.isRegularFile(envFile)) {
        mm.add(new Mismatch(Manifests.ENVELOPE, "file", "missing: the package is not signed"));
      } else {
        signatureChecked = true;
        try {
          JsonNode env = Json.parse(Files.readAllBytes(envFile), Manifests.ENVELOPE);
          if (!Dsse.IN_TOTO.equals(env.path("payloadType").asText())) {
            mm.add(
                new Mismatch(
                    Manifests.ENVELOPE,
                    "payloadType",
                    "is '" + env.path("payloadType").asText() + "', expected " + Dsse.IN_TOTO));
          }
          if (!Dsse.verify(env, key)) {
            mm.add(
                new Mismatch(
                    Manifests.ENVELOPE,
                    "signature",
                    "does not verify with the public key "
                        + o.publicKey()
                        + " (keyid "
                        + Dsse.keyId(key)
                        + ")"));
          }
          JsonNode signed = Json.parse(Dsse.payload(env), "the signed payload");
          if (!signed.equals(statement)) {
            mm.add(
                new Mismatch(
                    Manifests.ENVELOPE,
                    "payload",
                    "the signed statement differs from " + Manifests.FILE + "'s statement"));
          }
        } catch (IOException | IllegalArgumentException e) {
          mm.add(new Mismatch(Manifests.ENVELOPE, "envelope", e.getMessage()));
        }
      }
    } else if (Files.isRegularFile(envFile)) {
      notes.add("the package is signed but the signature was not checked (give --public-key)");
    }

    // 4. each model: certificate vs canonical digest, statement and report
    JsonNode predicate = statement.path("predicate");
    List<Checked> checked = new ArrayList<>();
    String parentDigest = null;
    int i = 0;
    for (JsonNode m : predicate.path("models")) {
      String at = "statement.predicate.models[" + i++ + "]";
      String file = m.path("file").asText();
      String reportPath = m.path("report").asText();
      if (!listed.containsKey(file) || !Files.isRegularFile(dir.resolve(file))) {
        mm.add(
            new Mismatch(
                Manifests.FILE, at + ".file", "names '" + file + "', which is not in the package"));
        continue;
      }
      ModelProto model;
      try {
        model = OnnxModels.load(dir.resolve(file));
      } catch (OnnxModelException e) {
        mm.add(new Mismatch(file, "onnx", "cannot be read as ONNX: " + e.getMessage()));
        continue;
      }
      String canonical = ModelDigest.of(model);
      if ("parent".equals(m.path("role").asText())) {
        parentDigest = canonical;
      }
      if (!canonical.equals(m.path("model_sha256").asText())) {
        mm.add(
            new Mismatch(
                Manifests.FILE,
                at + ".model_sha256",
                "says "
                    + m.path("model_sha256").asText()
                    + ", the canonical digest of "
                    + file
                    + " is "
                    + canonical));
      }
      Certificate cert = Certificate.read(model);
      if (cert == null) {
        mm.add(
            new Mismatch(
                file, "metadata_props", "holds no " + Certificate.PREFIX + "* certificate"));
        continue;
      }
      expect(mm, file, "version", cert, Certificate.VERSION, "the supported certificate version");
      expect(mm, file, "model_sha256", cert, canonical, "the model's canonical digest");
      expect(mm, file, "model_digest", cert, ModelDigest.METHOD, "the digest definition");
      expect(mm, file, "role", cert, m.path("role").asText(), at + ".role");
      expect(mm, file, "report", cert, reportPath, at + ".report");
      expect(mm, file, "date", cert, predicate.path("date").asText(), "statement.predicate.date");
      Path reportFile = dir.resolve(reportPath);
      if (!listed.containsKey(reportPath) || !Files.isRegularFile(reportFile)) {
        mm.add(
            new Mismatch(
                file,
                Certificate.PREFIX + "report",
                "names '" + reportPath + "', which is not in the package"));
        continue;
      }
      Report report;
      try {
        report = Packager.readReport(reportFile);
      } catch (EvaluationException e) {
        mm.add(new Mismatch(reportPath, "json", e.getMessage()));
        continue;
      }
      String reportSha = Hashes.sha256(reportFile);
      for (Map.Entry<String, String> e :
          Certificate.fromReport(report, reportPath, reportSha).entrySet()) {
        String from =
            e.getKey().equals("report_sha256") ? "the SHA-256 of " + reportPath : reportPath;
        expect(mm, file, e.getKey(), cert, e.getValue(), from);
      }
      for (String k : cert.fields().keySet()) {
        if (!Certificate.FIELDS.contains(k)) {
          mm.add(new Mismatch(file, Certificate.PREFIX + k, "unknown certificate field"));
        }
      }
      // the statement's numbers are the report's
      JsonNode want =
          Manifests.modelEntry(
              file, m.path("role").asText(), canonical, report, reportPath, reportSha);
      for (var it = want.fieldNames(); it.hasNext(); ) {
        String f = it.next();
        if (!Objects.equals(want.get(f), m.get(f))) {
          mm.add(
              new Mismatch(
                  Manifests.FILE,
                  at + "." + f,
                  "says " + m.get(f) + ", " + reportPath + " gives " + want.get(f)));
        }
      }
      checked.add(new Checked(file, cert, report));
    }
    if (checked.isEmpty() && mm.isEmpty()) {
      mm.add(new Mismatch(Manifests.FILE, "statement.predicate.models", "lists no model"));
    }
    for (Checked c : checked) {
      if ("variant".equals(c.cert().get("role"))) {
        expect(
            mm, c.file(), "parent_sha256", c.cert(), parentDigest, "the parent's canonical digest");
      }
    }
    if (!checked.isEmpty()) {
      Report parent = checked.get(0).report();
      checkPredicate(mm, predicate, "suite.sha256", Manifests.suiteSha256(parent));
      checkPredicate(mm, predicate, "samples.sha256", parent.dataset().samplesSha256());
      checkPredicate(mm, predicate, "samples.count", Integer.toString(parent.samples()));
    }

    // 5. recheck
    int rechecked = 0;
    if (o.recheck() > 0) {
      if (!mm.isEmpty()) {
        notes.add("recheck skipped: the package already differs from its manifest");
      } else {
        for (Checked c : checked) {
          rechecked += recheck(dir, c, o, mm);
        }
      }
    }
    return new Result(
        dir,
        listed.size(),
        signatureChecked,
        rechecked,
        mm,
        notes,
        verdict(predicate, checked, mm));
  }

  /**
   * The statement's verdict, or {@link #NO_GATES} when it says passed and no model's report nor
   * variant gate checked any gate; an unknown verdict is a mismatch.
   */
  private static String verdict(JsonNode predicate, List<Checked> checked, List<Mismatch> mm) {
    String v = predicate.path("verdict").asText("");
    if (!List.of(PASSED, FAILED, UNTRUSTED).contains(v)) {
      mm.add(
          new Mismatch(
              Manifests.FILE,
              "statement.predicate.verdict",
              "is '" + v + "', expected passed, failed or untrusted"));
      return v;
    }
    boolean anyGate =
        checked.stream().anyMatch(c -> c.report().gates().stream().anyMatch(g -> !g.skipped()));
    for (JsonNode g : predicate.path("variant_gates")) {
      anyGate |= !g.path("skipped").asBoolean(false);
    }
    return PASSED.equals(v) && !anyGate ? NO_GATES : v;
  }

  private record Checked(String file, Certificate cert, Report report) {}

  private static void expect(
      List<Mismatch> mm, String file, String field, Certificate cert, String want, String source) {
    String got = cert.get(field);
    if (!Objects.equals(got, want)) {
      mm.add(
          new Mismatch(
              file,
              Certificate.PREFIX + field,
              "certificate says "
                  + (got == null ? "nothing" : "'" + got + "'")
                  + ", "
                  + source
                  + " says '"
                  + want
                  + "'"));
    }
  }

  private static void checkPredicate(
      List<Mismatch> mm, JsonNode predicate, String path, String want) {
    JsonNode n = predicate;
    for (String p : path.split("\\.")) {
      n = n.path(p);
    }
    if (!want.equals(n.asText())) {
      mm.add(
          new Mismatch(
              Manifests.FILE,
              "statement.predicate." + path,
              "says '" + n.asText() + "', the report gives '" + want + "'"));
    }
  }

  /**
   * Re-runs the report's suite on the first {@code n} of its samples (the suite's seeded
   * permutation makes them the first {@code n} indices of the report) with the model in the
   * package, and compares every per-sample outcome exactly.
   */
  private static int recheck(Path dir, Checked c, Options o, List<Mismatch> mm) {
    Report r = c.report();
    if (r.shard() != null) {
      mm.add(new Mismatch(c.cert().get("report"), "shard", "a shard's report cannot be rechecked"));
      return 0;
    }
    int n = Math.min(o.recheck(), r.samples());
    EvaluationSuite suite = packagedSurrogates(dir, r.suite().settings().withSamples(n));
    ExecutionProvider provider =
        r.tool().executionProvider() == null
            ? ExecutionProvider.CPU
            : ExecutionProvider.parse(r.tool().executionProvider());
    SuiteRunner runner =
        SuiteRunner.builder()
            .optRuntime(new RuntimeOptions(provider, 0, o.threads(), 0))
            .optProgress(o.progress(), false)
            .optGallery(false)
            .build();
    Report again = runner.run(dir.resolve(c.file()), suite, o.data(), null);
    String where = c.cert().get("report");
    if (!again.sampleIndices().equals(r.sampleIndices().subList(0, n))) {
      mm.add(
          new Mismatch(
              where,
              "sample_indices",
              "the suite's first "
                  + n
                  + " samples are "
                  + abbreviate(again.sampleIndices())
                  + ", the report lists "
                  + abbreviate(r.sampleIndices().subList(0, n))));
      return n;
    }
    Map<Long, Report.SampleEntry> want = new HashMap<>();
    for (Report.SampleEntry e : r.perSample()) {
      want.put(e.index(), e);
    }
    int shown = 0;
    List<Report.SampleEntry> got = new ArrayList<>(again.perSample());
    got.sort(Comparator.comparingLong(Report.SampleEntry::index));
    for (Report.SampleEntry g : got) {
      Report.SampleEntry w = want.get(g.index());
      String diff = w == null ? "not in the report" : differences(w, g);
      if (diff != null && shown++ < MAX_SAMPLE_MISMATCHES) {
        mm.add(
            new Mismatch(
                where,
                "per_sample[index=" + g.index() + "]",
                "recheck of " + c.file() + ": " + diff));
      }
    }
    if (shown > MAX_SAMPLE_MISMATCHES) {
      mm.add(
          new Mismatch(
              where, "per_sample", (shown - MAX_SAMPLE_MISMATCHES) + " more sample(s) differ"));
    }
    return n;
  }

  /**
   * {@code suite} with each {@code transfer} attack's surrogate replaced by the packaged file of
   * the same name, when the package holds one (the float parent of a quantized variant): the
   * package then rechecks on its own, wherever it was moved. Every packaged file has been checked
   * against the manifest before a recheck runs; a surrogate the package does not hold keeps the
   * suite's path.
   */
  static EvaluationSuite packagedSurrogates(Path dir, EvaluationSuite suite) {
    List<AttackSpec> attacks = new ArrayList<>();
    for (AttackSpec a : suite.attacks()) {
      if (a instanceof AttackSpec.Transfer t) {
        Path name = Path.of(t.surrogate()).getFileName();
        Path packaged = name == null ? null : dir.resolve(name.toString());
        if (packaged != null && Files.isRegularFile(packaged)) {
          a = new AttackSpec.Transfer(packaged.toAbsolutePath().toString(), t.attack());
        }
      }
      attacks.add(a);
    }
    return suite.withAttacks(attacks);
  }

  /** The fields in which two outcomes of one sample differ, in words; null when equal. */
  static String differences(Report.SampleEntry want, Report.SampleEntry got) {
    List<String> d = new ArrayList<>();
    diff(d, "label", want.label(), got.label());
    diff(d, "clean_pred", want.cleanPred(), got.cleanPred());
    diff(d, "robust", want.robust(), got.robust());
    diff(d, "broken_by", want.brokenBy(), got.brokenBy());
    diff(d, "attack_index", want.attackIndex(), got.attackIndex());
    diff(d, "iteration", want.iteration(), got.iteration());
    diff(d, "prediction", want.prediction(), got.prediction());
    diff(d, "linf", want.linf(), got.linf());
    diff(d, "l2", want.l2(), got.l2());
    diff(d, "margin", want.margin(), got.margin());
    return d.isEmpty() ? null : String.join("; ", d);
  }

  private static void diff(List<String> out, String field, Object want, Object got) {
    if (!Objects.equals(want, got)) {
      out.add(String.format(Locale.ROOT, "%s: report %s, rerun %s", field, want, got));
    }
  }

  private static String abbreviate(List<Integer> l) {
    return l.size() <= 8 ? l.toString() : l.subList(0, 8) + "...";
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      // a leftover temporary folder is harmless
    }
  }
}
