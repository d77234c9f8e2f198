package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.ModelProto;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.evaluator.run.SuiteRunner;
import dev.arat.evaluator.run.VariantComparison;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.Specs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Builds a deployment package (docs/deployment.md): a folder and a {@code .tar.gz} of it holding
 * the ONNX files (parent and variants), each with its {@link Certificate} in {@code
 * metadata_props}; {@code MODEL_CARD.md}; the evaluation's report files under {@code eval/} (each
 * variant's under {@code eval/variants/<name>/}); the checkpoint's recipe, architecture and state
 * under {@code provenance/} when given; {@code manifest.json} (files, sizes, SHA-256, in-toto
 * statement); and with a key, {@code manifest.dsse.json} (DSSE envelope of the statement, Ed25519).
 *
 * <p>Bad input is an {@link EvaluationException} of kind INPUT (exit 2): a report measured on
 * another model (SHA-256 mismatch), a variant the evaluation did not cover, an output folder that
 * is not empty.
 */
public final class Packager {
  /** Folder of the report files inside a package. */
  public static final String EVAL_DIR = "eval";

  /** Folder of the checkpoint provenance inside a package. */
  public static final String PROVENANCE_DIR = "provenance";

  /** The model card's file name. */
  public static final String MODEL_CARD = "MODEL_CARD.md";

  private static final List<String> REPORT_FILES =
      List.of(ReportFiles.JSON_FILE, ReportFiles.MARKDOWN_FILE, ReportFiles.JUNIT_FILE);
  private static final List<String> PROVENANCE_FILES =
      List.of("recipe.yaml", "architecture.json", "state.json");

  /**
   * What to package.
   *
   * @param model the evaluated parent ONNX file
   * @param variants its variants (evaluated with {@code arat evaluate --variant}); may be empty
   * @param evalDir the evaluation's output folder (report.json, and variants.json for variants)
   * @param checkpoint a checkpoint or run folder (its newest checkpoint) for provenance, or null
   * @param out the package folder to create (must not exist or be empty); the archive is {@code
   *     out} + {@code .tar.gz}
   * @param signingKey an Ed25519 private key (PKCS#8 PEM) to sign the statement, or null
   * @param date the certificate date (truncated to seconds)
   */
  public record Request(
      Path model,
      List<Path> variants,
      Path evalDir,
      Path checkpoint,
      Path out,
      Path signingKey,
      Instant date) {
    /** Copies the list. */
    public Request {
      variants = variants == null ? List.of() : List.copyOf(variants);
      date = (date == null ? Instant.now() : date).truncatedTo(ChronoUnit.SECONDS);
    }
  }

  /**
   * The result.
   *
   * @param dir the package folder
   * @param archive the {@code .tar.gz}
   * @param files every file of the package but the manifest and envelope, sorted
   * @param verdict the overall verdict in the statement
   * @param signed whether a DSSE envelope was written
   */
  public record Result(
      Path dir, Path archive, List<String> files, String verdict, boolean signed) {}

  private Packager() {}

  /** One ONNX file to package with its report. */
  private record Item(
      Path source,
      String file,
      String role,
      Report report,
      Path reportDir,
      String reportDirInPkg) {}

  /** Builds the package. */
  public static Result build(Request q) {
    Path evalJson = q.evalDir().resolve(ReportFiles.JSON_FILE);
    Report parent = readReport(evalJson);
    checkSameModel(q.model(), Hashes.sha256(q.model()), parent, evalJson);
    List<Item> items = new ArrayList<>();
    items.add(
        new Item(
            q.model(),
            q.model().getFileName().toString(),
            "parent",
            parent,
            q.evalDir(),
            EVAL_DIR));
    VariantComparison.Result comparison = null;
    Set<String> names = new HashSet<>();
    names.add(items.get(0).file());
    if (!q.variants().isEmpty()) {
      Path vj = q.evalDir().resolve(VariantComparison.JSON_FILE);
      if (!Files.isRegularFile(vj)) {
        throw input(
            q.evalDir()
                + " holds no "
                + VariantComparison.JSON_FILE
                + ": evaluate the variants with"
                + " 'arat evaluate --model "
                + q.model()
                + " --variant FILE ...' first");
      }
      comparison = VariantComparison.readJson(read(vj));
      for (Path v : q.variants()) {
        String sha = Hashes.sha256(v);
        VariantComparison.Entry e =
            comparison.variants().stream()
                .filter(x -> sha.equals(x.sha256()))
                .findFirst()
                .orElseThrow(
                    () ->
                        input(
                            "variant "
                                + v
                                + " (SHA-256 "
                                + sha
                                + ") is not among the variants evaluated in "
                                + vj
                                + ": evaluate it with --variant first"));
        Path reportFile = q.evalDir().resolve(e.report());
        Report r = readReport(reportFile);
        checkSameModel(v, sha, r, reportFile);
        if (Boolean.FALSE.equals(e.madeFromParent())) {
          throw input(
              "variant "
                  + v
                  + " was made from another model: its "
                  + VariantComparison.PARENT_KEY
                  + " is "
                  + r.model().metadata().get(VariantComparison.PARENT_KEY)
                  + ", but "
                  + q.model()
                  + " has SHA-256 "
                  + parent.model().sha256());
        }
        String file = v.getFileName().toString();
        if (!names.add(file)) {
          throw input("two packaged models are named '" + file + "'");
        }
        String sub = VariantComparison.VARIANTS_DIR + "/" + VariantComparison.stem(file);
        items.add(new Item(v, file, "variant", r, reportFile.getParent(), EVAL_DIR + "/" + sub));
      }
    }
    Path out = q.out();
    try {
      if (Files.exists(out)) {
        try (Stream<Path> s = Files.list(out)) {
          if (!Files.isDirectory(out) || s.findAny().isPresent()) {
            throw input(
                "the package folder " + out + " exists and is not empty; choose a new --out");
          }
        }
      }
      Files.createDirectories(out);
      String date = q.date().toString();

      // report files
      copyReportFiles(q.evalDir(), out.resolve(EVAL_DIR), comparison != null);
      for (Item it : items.subList(1, items.size())) {
        copyReportFiles(it.reportDir(), out.resolve(it.reportDirInPkg()), false);
      }
      // provenance
      String recipe = null;
      if (q.checkpoint() != null) {
        Path ck =
            Files.isRegularFile(q.checkpoint().resolve("state.json"))
                ? q.checkpoint()
                : Checkpoint.latest(q.checkpoint())
                    .orElseThrow(
                        () ->
                            input(
                                q.checkpoint()
                                    + " is neither a checkpoint nor a run folder with checkpoints"));
        Files.createDirectories(out.resolve(PROVENANCE_DIR));
        for (String f : PROVENANCE_FILES) {
          if (Files.isRegularFile(ck.resolve(f))) {
            Files.copy(ck.resolve(f), out.resolve(PROVENANCE_DIR).resolve(f));
          }
        }
        if (Files.isRegularFile(ck.resolve("recipe.yaml"))) {
          recipe = Files.readString(ck.resolve("recipe.yaml"));
        }
      }
      // certified ONNX files
      ArrayNode models = Json.array();
      String parentDigest = null;
      for (Item it : items) {
        ModelProto m = OnnxModels.load(it.source());
        String canonical = ModelDigest.of(m);
        if (parentDigest == null) {
          parentDigest = canonical;
        }
        String reportPath = it.reportDirInPkg() + "/" + ReportFiles.JSON_FILE;
        String reportSha = Hashes.sha256(out.resolve(reportPath));
        Map<String, String> f = new LinkedHashMap<>();
        f.put("version", Certificate.VERSION);
        f.put("model_sha256", canonical);
        f.put("model_digest", ModelDigest.METHOD);
        f.put("role", it.role());
        if (it.role().equals("variant")) {
          f.put("parent_sha256", parentDigest);
        }
        f.putAll(Certificate.fromReport(it.report(), reportPath, reportSha));
        f.put("date", date);
        OnnxModels.save(new Certificate(f).writeInto(m), out.resolve(it.file()));
        models.add(
            Manifests.modelEntry(
                it.file(), it.role(), canonical, it.report(), reportPath, reportSha));
      }
      // verdict over the packaged models and their variant gates
      List<Report.Gate> variantGates = new ArrayList<>();
      if (comparison != null) {
        for (Report.Gate g : comparison.gates()) {
          if (items.stream().anyMatch(it -> g.name().endsWith("[" + it.file() + "]"))) {
            variantGates.add(g);
          }
        }
      }
      String verdict =
          items.stream().anyMatch(it -> !it.report().trusted())
              ? "untrusted"
              : items.stream().allMatch(it -> it.report().passed())
                      && variantGates.stream().allMatch(Report.Gate::passed)
                  ? "passed"
                  : "failed";
      List<ModelCard.Model> cardModels =
          items.stream().map(it -> new ModelCard.Model(it.file(), it.role(), it.report())).toList();
      Files.writeString(
          out.resolve(MODEL_CARD),
          ModelCard.write(
              VariantComparison.stem(items.get(0).file()), cardModels, recipe, verdict, date));

      // manifest
      List<String> files = listFiles(out);
      ArrayNode entries = Json.array();
      for (String f : files) {
        ObjectNode e = entries.addObject();
        e.put("path", f);
        e.put("size", Files.size(out.resolve(f)));
        e.put("sha256", Hashes.sha256(out.resolve(f)));
      }
      ObjectNode predicate = predicate(parent, models, variantGates, verdict, date);
      ObjectNode statement = Manifests.statement(entries, predicate);
      ObjectNode manifest = Json.object();
      manifest.put("manifest_version", 1);
      manifest.set("files", entries);
      manifest.set("statement", statement);
      Files.writeString(out.resolve(Manifests.FILE), Json.pretty(manifest));
      boolean signed = false;
      if (q.signingKey() != null) {
        PrivateKey key = Dsse.readPrivateKey(q.signingKey());
        ObjectNode env =
            Dsse.sign(Json.canonical(statement), Dsse.IN_TOTO, key, Dsse.publicOf(key));
        Files.writeString(out.resolve(Manifests.ENVELOPE), Json.pretty(env));
        signed = true;
      }
      List<String> all = new ArrayList<>(files);
      all.add(Manifests.FILE);
      if (signed) {
        all.add(Manifests.ENVELOPE);
      }
      Path archive = out.toAbsolutePath().resolveSibling(out.getFileName() + ".tar.gz");
      Archive.write(out, all, out.getFileName().toString(), archive, q.date().toEpochMilli());
      return new Result(out, archive, files, verdict, signed);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the package " + out + ": " + e.getMessage(), e);
    }
  }

  private static ObjectNode predicate(
      Report parent,
      ArrayNode models,
      List<Report.Gate> variantGates,
      String verdict,
      String date) {
    ObjectNode p = Json.object();
    p.put("certificate_version", Integer.parseInt(Certificate.VERSION));
    p.put("date", date);
    p.put("verdict", verdict);
    ObjectNode suite = p.putObject("suite");
    suite.put("name", parent.suite().name());
    suite.put("sha256", Manifests.suiteSha256(parent));
    ObjectNode threat = p.putObject("threat_model");
    threat.put("norm", parent.threatModel().norm().id());
    threat.put("epsilon", parent.threatModel().epsilon());
    ObjectNode data = p.putObject("samples");
    data.put("dataset", parent.dataset().name());
    data.put("split", parent.dataset().split());
    data.put("count", parent.samples());
    data.put("seed", parent.seed());
    data.put("sha256", parent.dataset().samplesSha256());
    p.put("model_digest", ModelDigest.METHOD);
    p.set("models", models);
    p.set("variant_gates", Specs.json().valueToTree(variantGates));
    ObjectNode tool = p.putObject("tool");
    tool.put("arat", parent.tool().version());
    tool.put("onnxruntime", parent.tool().onnxruntime());
    tool.put("java", parent.tool().java());
    tool.put("execution_provider", parent.tool().executionProvider());
    tool.put("packaged_with", SuiteRunner.TOOL_VERSION);
    return p;
  }

  /**
   * Regular files under {@code dir} as sorted '/'-separated relative paths, without manifest and
   * envelope.
   */
  static List<String> listFiles(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile)
          .map(p -> dir.relativize(p).toString().replace('\\', '/'))
          .filter(f -> !f.equals(Manifests.FILE) && !f.equals(Manifests.ENVELOPE))
          .sorted()
          .toList();
    }
  }

  private static void copyReportFiles(Path from, Path to, boolean withVariants) throws IOException {
    Files.createDirectories(to);
    for (String f : REPORT_FILES) {
      if (Files.isRegularFile(from.resolve(f))) {
        Files.copy(from.resolve(f), to.resolve(f));
      }
    }
    if (withVariants) {
      Files.copy(
          from.resolve(VariantComparison.JSON_FILE), to.resolve(VariantComparison.JSON_FILE));
    }
    try (Stream<Path> s = Files.list(from)) {
      for (Path p :
          s.filter(p -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png"))
              .sorted()
              .toList()) {
        Files.copy(p, to.resolve(p.getFileName().toString()));
      }
    }
  }

  /**
   * Fails unless {@code report} was measured on exactly {@code model}'s bytes ({@code sha}: their
   * SHA-256).
   */
  private static void checkSameModel(Path model, String sha, Report report, Path reportFile) {
    if (!sha.equals(report.model().sha256())) {
      throw input(
          String.format(
              Locale.ROOT,
              "%s was measured on a model with SHA-256 %s, but %s has SHA-256 %s:"
                  + " package the model that was evaluated, or evaluate this one",
              reportFile,
              report.model().sha256(),
              model,
              sha));
    }
  }

  static Report readReport(Path file) {
    if (!Files.isRegularFile(file)) {
      throw input("no report at " + file + ": give --eval the folder 'arat evaluate' wrote");
    }
    Report r;
    try {
      r = ReportFiles.readJson(read(file));
    } catch (IllegalArgumentException e) {
      throw input(file + ": " + e.getMessage());
    }
    if (r.shard() != null) {
      throw input(
          file
              + " is the report of shard "
              + r.shard()
              + " only: merge the shards first ('arat merge')");
    }
    return r;
  }

  static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw input("cannot read " + file + ": " + e.getMessage());
    }
  }

  static EvaluationException input(String message) {
    return new EvaluationException(EvaluationException.Kind.INPUT, message);
  }
}
