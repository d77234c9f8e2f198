package dev.arat.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.ort.RuntimeOptions;
import dev.arat.evaluator.run.SuiteRunner;
import dev.arat.evaluator.run.VariantComparison;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Specs;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code package} then {@code verify} on a small classifier and a weight-rounded variant: the
 * untouched package verifies (folder, archive, signature, recheck of 50 samples), and every kind of
 * tampering is a mismatch naming the file and field.
 */
class PackageVerifyTest {
  static final EvaluationSuite SUITE =
      Specs.parse(
          String.join(
              "\n",
              "name: pkg",
              "data: {dataset: synthetic}",
              "samples: 60",
              "seed: 5",
              "batch_size: 32",
              "threat_model: {norm: Linf, epsilon: 0.1}",
              "attacks: [{type: fgsm}, {type: pgd, steps: 5}, {type: square, queries: 20}]",
              "gates: {min_robust_accuracy: 0.0, max_robust_drop_vs_parent: 0.5, min_top1_agreement: 0.5}",
              ""),
          EvaluationSuite.class,
          "pkg.yaml");

  @TempDir static Path shared;
  static Path parent;
  static Path variant;
  static Path eval;
  static Path pkg;
  static Path pub;
  static Packager.Result built;

  @BeforeAll
  static void evaluateAndPackage() throws Exception {
    parent = shared.resolve("model.onnx");
    OnnxModels.save(TestModels.nearestMean(0), parent);
    variant = shared.resolve("model.int4.onnx");
    OnnxModels.save(TestModels.nearestMean(7, Hashes.sha256(parent)), variant);
    eval = shared.resolve("eval");
    VariantComparison.writeAll(
        VariantComparison.run(
            SuiteRunner.builder().optThreads(1),
            RuntimeOptions.cpu(1),
            parent,
            List.of(variant),
            SUITE,
            null,
            eval),
        eval);
    KeyPair kp = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    Path key = shared.resolve("key.pem");
    pub = shared.resolve("key.pub.pem");
    Dsse.writePem(key, kp.getPrivate());
    Dsse.writePem(pub, kp.getPublic());
    pkg = shared.resolve("pkg");
    built =
        Packager.build(
            new Packager.Request(
                parent,
                List.of(variant),
                eval,
                null,
                pkg,
                key,
                Instant.parse("2026-01-02T03:04:05Z")));
  }

  static Verifier.Result verify(Path p, Path key, int recheck) {
    return Verifier.verify(p, new Verifier.Options(key, recheck, null, 1, null));
  }

  static Path copyOfPackage(Path dir) throws IOException {
    Path to = dir.resolve("pkg");
    try (Stream<Path> s = Files.walk(pkg)) {
      for (Path p : s.toList()) {
        Files.copy(p, to.resolve(pkg.relativize(p).toString()));
      }
    }
    return to;
  }

  static void assertMismatch(Verifier.Result r, String file, String field) {
    assertFalse(r.verified());
    assertTrue(
        r.mismatches().stream().anyMatch(m -> m.file().equals(file) && m.field().equals(field)),
        "expected a mismatch " + file + ": " + field + " among " + r.mismatches());
  }

  @Test
  void anUntouchedPackageVerifiesAsFolderAndArchiveWithSignatureAndRecheck() throws Exception {
    assertEquals(
        List.of(
            "MODEL_CARD.md",
            "eval/junit.xml",
            "eval/per-class.png",
            "eval/report.json",
            "eval/report.md",
            "eval/robust-vs-epsilon.png",
            "eval/variants.json",
            "eval/variants.png",
            "eval/variants/model.int4/junit.xml",
            "eval/variants/model.int4/per-class.png",
            "eval/variants/model.int4/report.json",
            "eval/variants/model.int4/report.md",
            "eval/variants/model.int4/robust-vs-epsilon.png",
            "model.int4.onnx",
            "model.onnx"),
        built.files().stream().filter(f -> !f.endsWith("gallery.png")).toList());
    assertTrue(built.signed());
    Verifier.Result r = verify(pkg, pub, 0);
    assertTrue(r.verified(), r.mismatches().toString());
    assertTrue(r.signatureChecked());
    Verifier.Result archive = verify(built.archive(), pub, 50);
    assertTrue(archive.verified(), archive.mismatches().toString());
    assertEquals(100, archive.recheckedSamples(), "50 samples of each of the two models");
    Verifier.Result unsigned = verify(pkg, null, 0);
    assertTrue(unsigned.verified());
    assertTrue(unsigned.notes().get(0).contains("not checked"));

    // the certificate inside the ONNX file
    Certificate c = Certificate.read(OnnxModels.load(pkg.resolve("model.int4.onnx")));
    VariantComparison.Result cmp =
        VariantComparison.readJson(Files.readString(pkg.resolve("eval/variants.json")));
    assertEquals(Boolean.TRUE, cmp.variants().get(0).madeFromParent());
    assertEquals("int4-weights", cmp.variants().get(0).precision());
    assertEquals("variant", c.get("role"));
    assertEquals(ModelDigest.of(OnnxModels.load(parent)), c.get("parent_sha256"));
    assertEquals(ModelDigest.of(OnnxModels.load(variant)), c.get("model_sha256"));
    assertEquals("2026-01-02T03:04:05Z", c.get("date"));
    assertEquals("Linf eps=0.1", c.get("threat_model"));
    // the statement
    JsonNode st =
        Json.parse(Files.readAllBytes(pkg.resolve("manifest.json")), "m").get("statement");
    assertEquals("https://in-toto.io/Statement/v1", st.get("_type").asText());
    assertEquals(built.files().size(), st.get("subject").size());
    assertEquals(2, st.get("predicate").get("models").size());
    // the model card's front matter
    String card = Files.readString(pkg.resolve(Packager.MODEL_CARD));
    assertTrue(
        card.startsWith("---\n")
            && card.contains("model-index:")
            && card.contains("type: robust_accuracy")
            && card.contains("model.int4.onnx"),
        card);
  }

  @Test
  void aFlippedModelByteIsNamed(@TempDir Path dir) throws Exception {
    Path p = copyOfPackage(dir);
    byte[] b = Files.readAllBytes(p.resolve("model.onnx"));
    b[b.length / 2] ^= 0x01; // inside the weights
    Files.write(p.resolve("model.onnx"), b);
    Verifier.Result r = verify(p, null, 0);
    assertMismatch(r, "model.onnx", "sha256");
    assertMismatch(r, "model.onnx", "arat.certificate.model_sha256");
  }

  @Test
  void anEditedReportNumberIsNamed(@TempDir Path dir) throws Exception {
    Path p = copyOfPackage(dir);
    Path report = p.resolve("eval/report.json");
    String text = Files.readString(report);
    String edited =
        text.replaceFirst("\"robust_accuracy\" : ([0-9.]+)", "\"robust_accuracy\" : 0.99");
    assertFalse(edited.equals(text));
    Files.writeString(report, edited);
    Verifier.Result r = verify(p, null, 0);
    assertMismatch(r, "eval/report.json", "sha256");
    assertMismatch(r, "model.onnx", "arat.certificate.robust_accuracy");
    assertMismatch(r, "model.onnx", "arat.certificate.report_sha256");
  }

  @Test
  void anEditedCertificateIsNamed(@TempDir Path dir) throws Exception {
    Path p = copyOfPackage(dir);
    ModelProto m = OnnxModels.load(p.resolve("model.int4.onnx"));
    Map<String, String> f = new HashMap<>(Certificate.read(m).fields());
    f.put("robust_accuracy", "0.95");
    OnnxModels.save(new Certificate(f).writeInto(m), p.resolve("model.int4.onnx"));
    Verifier.Result r = verify(p, null, 0);
    assertMismatch(r, "model.int4.onnx", "arat.certificate.robust_accuracy");
    assertMismatch(r, "model.int4.onnx", "sha256");
    assertFalse(
        r.mismatches().stream().anyMatch(x -> x.field().equals("arat.certificate.model_sha256")),
        "the canonical digest ignores the certificate");
  }

  @Test
  void anEditedNumberInTheStatementIsNamed(@TempDir Path dir) throws Exception {
    Path p = copyOfPackage(dir);
    String m = Files.readString(p.resolve("manifest.json"));
    String edited =
        m.replaceFirst("\"robust_accuracy\" : ([0-9.]+)", "\"robust_accuracy\" : 0.999");
    assertFalse(edited.equals(m));
    Files.writeString(p.resolve("manifest.json"), edited);
    Verifier.Result r = verify(p, null, 0);
    assertMismatch(r, "manifest.json", "statement.predicate.models[0].robust_accuracy");
    assertEquals(1, r.mismatches().size(), r.mismatches().toString());
  }

  @Test
  void aMissingAndAnExtraFileAreNamed(@TempDir Path dir) throws Exception {
    Path p = copyOfPackage(dir);
    Files.delete(p.resolve("eval/variants/model.int4/junit.xml"));
    Files.writeString(p.resolve("eval/notes.txt"), "added later");
    Verifier.Result r = verify(p, null, 0);
    assertMismatch(r, "eval/variants/model.int4/junit.xml", "file");
    assertMismatch(r, "eval/notes.txt", "file");
    assertEquals(2, r.mismatches().size(), r.mismatches().toString());
  }

  @Test
  void aWrongPublicKeyIsNamed(@TempDir Path dir) throws Exception {
    Path other = dir.resolve("other.pub.pem");
    Dsse.writePem(other, KeyPairGenerator.getInstance("Ed25519").generateKeyPair().getPublic());
    Verifier.Result r = verify(pkg, other, 0);
    assertMismatch(r, Manifests.ENVELOPE, "signature");
    assertEquals(1, r.mismatches().size(), r.mismatches().toString());
  }

  @Test
  void aReSignedManifestWithAnotherKeyFailsAndAnEditedStatementIsCaughtBySignature(
      @TempDir Path dir) throws Exception {
    Path p = copyOfPackage(dir);
    // someone re-hashes a changed model card into the manifest (no key): the signature catches it
    Files.writeString(p.resolve(Packager.MODEL_CARD), "# better numbers\n");
    String m = Files.readString(p.resolve("manifest.json"));
    String oldSha = Hashes.sha256(pkg.resolve(Packager.MODEL_CARD));
    String newSha = Hashes.sha256(p.resolve(Packager.MODEL_CARD));
    long oldSize = Files.size(pkg.resolve(Packager.MODEL_CARD));
    m =
        m.replace(oldSha, newSha)
            .replace(
                "\"size\" : " + oldSize + ",",
                "\"size\" : " + Files.size(p.resolve(Packager.MODEL_CARD)) + ",");
    Files.writeString(p.resolve("manifest.json"), m);
    assertTrue(verify(p, null, 0).verified(), "without a key nothing binds the manifest");
    Verifier.Result r = verify(p, pub, 0);
    assertMismatch(r, Manifests.ENVELOPE, "payload");
  }

  @Test
  void recheckFindsAReportWhosePerSampleOutcomesTheModelDoesNotReproduce(@TempDir Path dir)
      throws Exception {
    // a consistent package (every digest right) of a report with one edited per-sample margin
    Path evalCopy = dir.resolve("eval");
    try (Stream<Path> s = Files.walk(eval)) {
      for (Path p : s.toList()) {
        Files.copy(p, evalCopy.resolve(eval.relativize(p).toString()));
      }
    }
    Path report = evalCopy.resolve("report.json");
    String text = Files.readString(report);
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("\"per_sample\" : \\[ \\{\\s*\"index\" : (\\d+)")
            .matcher(text);
    assertTrue(m.find());
    String first = m.group(1);
    String edited = text.replaceFirst("\"margin\" : (-?[0-9.E-]+)", "\"margin\" : 1.25");
    assertFalse(edited.equals(text));
    Files.writeString(report, edited);
    Path p = dir.resolve("pkg");
    Packager.build(new Packager.Request(parent, List.of(), evalCopy, null, p, null, null));
    assertTrue(verify(p, null, 0).verified());
    Verifier.Result r = verify(p, null, 50);
    assertMismatch(r, "eval/report.json", "per_sample[index=" + first + "]");
    assertEquals(1, r.mismatches().size(), r.mismatches().toString());
    assertTrue(
        r.mismatches().get(0).detail().contains("margin: report 1.25"), r.mismatches().toString());
  }

  @Test
  void packagingTheReportOfAnotherModelIsBadInput(@TempDir Path dir) {
    Path other = dir.resolve("other.onnx");
    OnnxModels.save(TestModels.nearestMean(3), other);
    EvaluationException e =
        assertThrows(
            EvaluationException.class,
            () ->
                Packager.build(
                    new Packager.Request(
                        other, List.of(), eval, null, dir.resolve("out"), null, null)));
    assertEquals(EvaluationException.Kind.INPUT, e.kind());
    assertTrue(
        e.getMessage().contains("SHA-256") && e.getMessage().contains(Hashes.sha256(other)),
        e.getMessage());
    EvaluationException v =
        assertThrows(
            EvaluationException.class,
            () ->
                Packager.build(
                    new Packager.Request(
                        parent, List.of(other), eval, null, dir.resolve("out2"), null, null)));
    assertTrue(v.getMessage().contains("is not among the variants evaluated"), v.getMessage());
    // a variant made from another parent, evaluated against this one
    Path stranger = dir.resolve("stranger.onnx");
    OnnxModels.save(TestModels.nearestMean(5, "0".repeat(64)), stranger);
    Path ev = dir.resolve("ev");
    VariantComparison.Outcome o =
        VariantComparison.run(
            SuiteRunner.builder().optThreads(1),
            RuntimeOptions.cpu(1),
            parent,
            List.of(stranger),
            SUITE.withSamples(10),
            null,
            ev);
    assertEquals(Boolean.FALSE, o.comparison().variants().get(0).madeFromParent());
    VariantComparison.writeAll(o, ev);
    EvaluationException s =
        assertThrows(
            EvaluationException.class,
            () ->
                Packager.build(
                    new Packager.Request(
                        parent, List.of(stranger), ev, null, dir.resolve("out3"), null, null)));
    assertTrue(s.getMessage().contains("was made from another model"), s.getMessage());
    // the report of one shard
    Path shard = dir.resolve("shard");
    dev.arat.evaluator.report.ReportFiles.writeAll(
        SuiteRunner.builder()
            .optThreads(1)
            .optShard("1/2")
            .build()
            .run(parent, SUITE.withSamples(10), null, shard),
        shard);
    EvaluationException sh =
        assertThrows(
            EvaluationException.class,
            () ->
                Packager.build(
                    new Packager.Request(
                        parent, List.of(), shard, null, dir.resolve("out4"), null, null)));
    assertTrue(sh.getMessage().contains("shard 1/2 only"), sh.getMessage());
  }

  @Test
  void archiveEntriesLeavingTheFolderAreRefused(@TempDir Path dir) throws Exception {
    Path evil = dir.resolve("evil.tar.gz");
    try (OutputStream fo = Files.newOutputStream(evil);
        TarArchiveOutputStream tar =
            new TarArchiveOutputStream(new GzipCompressorOutputStream(fo))) {
      byte[] body = "x".getBytes(StandardCharsets.UTF_8);
      TarArchiveEntry e = new TarArchiveEntry("pkg/../../escaped.txt", true);
      e.setSize(body.length);
      tar.putArchiveEntry(e);
      tar.write(body);
      tar.closeArchiveEntry();
    }
    EvaluationException e = assertThrows(EvaluationException.class, () -> verify(evil, null, 0));
    assertEquals(EvaluationException.Kind.INPUT, e.kind());
    assertTrue(e.getMessage().contains("leaves the package folder"), e.getMessage());
    assertFalse(Files.exists(dir.getParent().resolve("escaped.txt")));
    EvaluationException notPkg =
        assertThrows(EvaluationException.class, () -> verify(dir, null, 0));
    assertTrue(notPkg.getMessage().contains("no manifest.json"), notPkg.getMessage());
  }

  static void deleteTree(Path p) throws IOException {
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(q);
      }
    }
  }
}
