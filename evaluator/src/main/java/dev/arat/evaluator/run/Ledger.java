package dev.arat.evaluator.run;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arat.attack.CascadeJournal;
import dev.arat.attack.ModelCalls;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.Shard;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.evaluator.report.Report;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Specs;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The evaluation ledger: a JSON-lines file ({@code ledger.jsonl}) in the output folder recording,
 * per sample, the clean outcome and every attack's re-scored candidate (prediction, margin, Linf
 * and L2 norms, iteration, budget violation), plus the pre-cascade diagnostics. Each computed batch
 * is appended as one line and fsync'd before the run goes on, so a killed run loses at most the
 * batch in flight; a partial last line is cut off when the ledger is reopened.
 *
 * <p>The first line is a header naming the evaluation: model SHA-256, the suite's measurement
 * settings (everything but {@code name}, {@code batch_size}, {@code gates} and {@code data.path}),
 * the chosen samples and their SHA-256, and the shard. Re-running the same suite on the same model
 * into the same folder resumes: recorded work is replayed, not recomputed. A ledger of another
 * evaluation is an {@link EvaluationException} (INPUT) that says what differs.
 *
 * <p>Line types: {@code header}, {@code probe} (diagnostics from the sanity checks and the model
 * scan), {@code clean} (one batch of clean outcomes), {@code attack} (one batch of one attack at
 * one epsilon), {@code adversarial} (the adversarial images of the samples one batch of one attack
 * broke at the threat model's epsilon, written before that batch's {@code attack} line when the
 * suite's {@code save_adversarial} is on; images are little-endian float32 CHW in base64). See
 * docs/report-schema.md. Not thread-safe; one process per ledger (a file lock guards it).
 */
public final class Ledger implements AutoCloseable {
  /** File name of the ledger inside an output folder. */
  public static final String FILE = "ledger.jsonl";

  /** Layout version of the ledger lines. */
  public static final int VERSION = 1;

  static final ObjectMapper JSON =
      Specs.json()
          .copy()
          .disable(SerializationFeature.INDENT_OUTPUT)
          .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS.mappedFeature());

  static {
    JSON.getFactory().disable(JsonWriteFeature.WRITE_NAN_AS_STRINGS.mappedFeature());
  }

  /**
   * The first line: which evaluation this ledger belongs to.
   *
   * @param type {@code header}
   * @param ledgerVersion {@link #VERSION}
   * @param tool name and versions of the software that wrote it
   * @param provider the execution provider ({@code cpu}, {@code cuda}, {@code tensorrt}) or {@code
   *     java} for an engine-free model
   * @param model the model (path, SHA-256, metadata, input shape, classes)
   * @param suite every suite setting (defaults applied)
   * @param dataset the data; {@code samples_sha256} covers all chosen samples, not only the shard's
   * @param sampleIndices dataset indices of all chosen samples, in order
   * @param shard which shard this ledger holds
   */
  public record Header(
      String type,
      int ledgerVersion,
      Report.Tool tool,
      String provider,
      Report.ModelInfo model,
      EvaluationSuite suite,
      Report.DatasetInfo dataset,
      List<Integer> sampleIndices,
      Shard shard) {}

  record ProbeLine(String type, List<Diagnostic> diagnostics) {}

  record CleanLine(String type, double seconds, List<CascadeJournal.Clean> samples) {}

  record AttackLine(
      String type,
      double epsilon,
      int attack,
      String name,
      double seconds,
      ModelCalls calls,
      List<CascadeJournal.Attempt> samples) {}

  record AdversarialLine(
      String type,
      double epsilon,
      int attack,
      List<Integer> shape,
      List<AdversarialSample> samples) {}

  /** One broken sample's adversarial image: little-endian float32 CHW bytes (base64 in JSON). */
  record AdversarialSample(long sampleId, byte[] image) {}

  /**
   * A saved adversarial example.
   *
   * @param attack the attack that broke the sample
   * @param shape {@code [C, H, W]}
   * @param image float32 CHW
   */
  record Adversarial(int attack, List<Integer> shape, float[] image) {}

  private final Path file;
  private final Header header;
  private final FileChannel channel;
  private final FileLock lock;
  private List<Diagnostic> probe;
  private final Map<Long, CascadeJournal.Clean> clean = new HashMap<>();
  private final Map<Double, Map<Integer, Map<Long, CascadeJournal.Attempt>>> attempts =
      new HashMap<>();
  private final Map<Double, Map<Integer, CascadeJournal.Spent>> previous = new HashMap<>();
  private final Map<Long, Adversarial> adversarial = new HashMap<>();
  private boolean closed;

  private Ledger(Path file, Header header, FileChannel channel, FileLock lock) {
    this.file = file;
    this.header = header;
    this.channel = channel;
    this.lock = lock;
  }

  /** A ledger kept only in memory (a run without an output folder). */
  public static Ledger inMemory(Header header) {
    return new Ledger(null, header, null, null);
  }

  /**
   * Opens {@code dir/ledger.jsonl} for a run: creates it with {@code header}, or, when it exists,
   * checks that it belongs to the same evaluation and loads its records to resume.
   *
   * @param dir the output folder (created if missing)
   * @param header what this run evaluates
   * @param fresh discard an existing ledger instead of resuming
   * @throws EvaluationException (INPUT) if the ledger belongs to another evaluation, is corrupt, is
   *     locked by another process or cannot be written
   */
  public static Ledger open(Path dir, Header header, boolean fresh) {
    Path file = dir.resolve(FILE);
    FileChannel ch = null;
    try {
      Files.createDirectories(dir);
      if (fresh) {
        Files.deleteIfExists(file);
      }
      ch =
          FileChannel.open(
              file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      FileLock lock;
      try {
        lock = ch.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null;
      }
      if (lock == null) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            file + " is in use by another evaluation; wait for it or choose another output folder");
      }
      Ledger l = new Ledger(file, header, ch, lock);
      long size = ch.size();
      if (size == 0) {
        l.append(header);
        return l;
      }
      byte[] bytes = Files.readAllBytes(file);
      int end = bytes.length;
      while (end > 0 && bytes[end - 1] != '\n') {
        end--;
      }
      if (end < bytes.length) {
        ch.truncate(end); // a partial last line: the run was killed while writing it
        ch.force(true);
      }
      Header old = l.load(new String(bytes, 0, end, StandardCharsets.UTF_8), false);
      String why = old == null ? "it has no header line" : differences(old, header);
      if (why != null) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            file
                + " belongs to another evaluation ("
                + why
                + "); write to another output folder, or start over with --fresh");
      }
      ch.position(ch.size());
      return l;
    } catch (IOException e) {
      closeQuietly(ch);
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          "cannot open the ledger " + file + ": " + e.getMessage(),
          null,
          e);
    } catch (RuntimeException e) {
      closeQuietly(ch);
      throw e;
    }
  }

  /**
   * Reads a ledger (for a merge): {@code path} is an output folder holding {@code ledger.jsonl} or
   * the file itself. A partial last line is ignored.
   *
   * @throws EvaluationException (INPUT) if it is missing, has no header or a corrupt line
   */
  public static Ledger read(Path path) {
    Path file = Files.isDirectory(path) ? path.resolve(FILE) : path;
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          "no ledger at "
              + file
              + " (pass the output folder of an 'arat evaluate --shard k/n' run)");
    } catch (IOException e) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT, "cannot read " + file + ": " + e.getMessage(), null, e);
    }
    int end = text.lastIndexOf('\n') + 1;
    Ledger l = new Ledger(file, null, null, null);
    Header h = l.load(text.substring(0, end), true);
    if (h == null) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT, file + ": not a ledger (no header line)");
    }
    Ledger out = new Ledger(file, h, null, null);
    out.probe = l.probe;
    out.clean.putAll(l.clean);
    out.attempts.putAll(l.attempts);
    out.previous.putAll(l.previous);
    out.adversarial.putAll(l.adversarial);
    return out;
  }

  /** Parses the lines; returns the header (or null if there is none). */
  private Header load(String text, boolean readOnly) {
    Header h = null;
    int lineNo = 0;
    for (String line : text.split("\n")) {
      lineNo++;
      if (line.isBlank()) {
        continue;
      }
      try {
        JsonNode node = JSON.readTree(line);
        String type = node.path("type").asText("");
        switch (type) {
          case "header" -> {
            if (node.path("ledger_version").asInt() != VERSION) {
              throw new EvaluationException(
                  EvaluationException.Kind.INPUT,
                  file
                      + ": ledger version "
                      + node.path("ledger_version").asText()
                      + " is not "
                      + VERSION
                      + " (written by another arat version)");
            }
            h = JSON.treeToValue(node, Header.class);
          }
          case "probe" -> probe = JSON.treeToValue(node, ProbeLine.class).diagnostics();
          case "clean" -> {
            for (CascadeJournal.Clean c : JSON.treeToValue(node, CleanLine.class).samples()) {
              clean.put(c.sampleId(), c);
            }
          }
          case "attack" -> {
            AttackLine a = JSON.treeToValue(node, AttackLine.class);
            Map<Long, CascadeJournal.Attempt> m =
                attempts
                    .computeIfAbsent(a.epsilon(), e -> new HashMap<>())
                    .computeIfAbsent(a.attack(), i -> new HashMap<>());
            for (CascadeJournal.Attempt r : a.samples()) {
              m.put(r.sampleId(), r);
            }
            // ledgers written before calls were recorded have none
            ModelCalls calls = a.calls() == null ? ModelCalls.NONE : a.calls();
            previous
                .computeIfAbsent(a.epsilon(), e -> new HashMap<>())
                .merge(
                    a.attack(),
                    new CascadeJournal.Spent(a.seconds(), calls),
                    CascadeJournal.Spent::plus);
          }
          case "adversarial" -> {
            AdversarialLine a = JSON.treeToValue(node, AdversarialLine.class);
            for (AdversarialSample r : a.samples()) {
              float[] img = new float[r.image().length / 4];
              ByteBuffer.wrap(r.image())
                  .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                  .asFloatBuffer()
                  .get(img);
              adversarial.put(r.sampleId(), new Adversarial(a.attack(), a.shape(), img));
            }
          }
          default ->
              throw new EvaluationException(
                  EvaluationException.Kind.INPUT,
                  file + " line " + lineNo + ": unknown line type '" + type + "'");
        }
        if (lineNo == 1 && h == null) {
          return null;
        }
      } catch (JsonProcessingException e) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            file + " line " + lineNo + ": corrupt ledger line: " + e.getOriginalMessage(),
            null,
            e);
      }
    }
    return h;
  }

  /** Null when {@code old} and {@code now} describe the same measurement, else what differs. */
  static String differences(Header old, Header now) {
    List<String> d = new ArrayList<>();
    if (!Objects.equals(old.model().sha256(), now.model().sha256())) {
      d.add("model sha256 " + abbrev(old.model().sha256()) + " vs " + abbrev(now.model().sha256()));
    }
    if (!fingerprint(old.suite()).equals(fingerprint(now.suite()))) {
      d.add("suite settings differ (data, samples, seed, threat model, attacks, sweep or checks)");
    }
    if (!Objects.equals(old.dataset().samplesSha256(), now.dataset().samplesSha256())
        || !old.sampleIndices().equals(now.sampleIndices())) {
      d.add("the chosen samples differ");
    }
    if (!old.shard().equals(now.shard())) {
      d.add("shard " + old.shard() + " vs " + now.shard());
    }
    return d.isEmpty() ? null : String.join("; ", d);
  }

  /**
   * The measurement-relevant settings of a suite: all of it but {@code name}, {@code batch_size}
   * (never changes results), {@code gates} (applied afterwards) and {@code data.path}, {@code
   * data.x}, {@code data.y} (machine specific; the samples' SHA-256 guards the data). {@code
   * save_adversarial} is part of it: a ledger either holds the evidence of every broken sample or
   * none.
   */
  static JsonNode fingerprint(EvaluationSuite suite) {
    ObjectNode n = Specs.json().valueToTree(suite);
    n.remove(List.of("name", "batch_size", "gates"));
    if (n.get("data") instanceof ObjectNode data) {
      data.remove(List.of("path", "x", "y"));
    }
    return n;
  }

  private static String abbrev(String sha) {
    return sha == null ? "?" : sha.substring(0, Math.min(12, sha.length()));
  }

  /** The header. */
  public Header header() {
    return header;
  }

  /** The file, or null for an in-memory ledger. */
  public Path file() {
    return file;
  }

  /** The recorded pre-cascade diagnostics, or null when the checks have not run yet. */
  public List<Diagnostic> probe() {
    return probe;
  }

  /** Records the pre-cascade diagnostics. */
  public void recordProbe(List<Diagnostic> diagnostics) {
    probe = List.copyOf(diagnostics);
    append(new ProbeLine("probe", probe));
  }

  /** The journal of the cascade at {@code epsilon} (clean outcomes are shared by all epsilons). */
  public CascadeJournal journal(double epsilon) {
    return new CascadeJournal() {
      @Override
      public Clean clean(long sampleId) {
        return Ledger.this.clean.get(sampleId);
      }

      @Override
      public Attempt attempt(int attackIndex, long sampleId) {
        Map<Integer, Map<Long, Attempt>> byAttack = attempts.get(epsilon);
        Map<Long, Attempt> m = byAttack == null ? null : byAttack.get(attackIndex);
        return m == null ? null : m.get(sampleId);
      }

      @Override
      public Spent recorded(int attackIndex) {
        Map<Integer, Spent> m = previous.get(epsilon);
        return m == null ? Spent.NONE : m.getOrDefault(attackIndex, Spent.NONE);
      }

      @Override
      public void recordClean(List<Clean> batch, double seconds) {
        for (Clean c : batch) {
          Ledger.this.clean.put(c.sampleId(), c);
        }
        append(new CleanLine("clean", seconds, batch));
      }

      @Override
      public void recordAdversarial(
          int attackIndex, long[] sampleIds, dev.arat.attack.ImageBatch images) {
        if (channel == null
            || !header.suite().saveAdversarial()
            || epsilon != header.suite().threatModel().epsilon()) {
          return;
        }
        List<Integer> shape = List.of(images.c(), images.h(), images.w());
        int per = images.imageSize();
        List<AdversarialSample> samples = new ArrayList<>(sampleIds.length);
        for (int i = 0; i < sampleIds.length; i++) {
          float[] img = java.util.Arrays.copyOfRange(images.data(), i * per, (i + 1) * per);
          ByteBuffer b = ByteBuffer.allocate(4 * per).order(java.nio.ByteOrder.LITTLE_ENDIAN);
          b.asFloatBuffer().put(img);
          samples.add(new AdversarialSample(sampleIds[i], b.array()));
          adversarial.put(sampleIds[i], new Adversarial(attackIndex, shape, img));
        }
        append(new AdversarialLine("adversarial", epsilon, attackIndex, shape, samples));
      }

      @Override
      public void recordAttempts(int attackIndex, List<Attempt> batch, Spent spent) {
        Map<Long, Attempt> m =
            attempts
                .computeIfAbsent(epsilon, e -> new HashMap<>())
                .computeIfAbsent(attackIndex, i -> new HashMap<>());
        for (Attempt r : batch) {
          m.put(r.sampleId(), r);
        }
        append(
            new AttackLine(
                "attack", epsilon, attackIndex, null, spent.seconds(), spent.calls(), batch));
      }
    };
  }

  /**
   * The saved adversarial example of {@code sampleId} at the threat model's epsilon, or null when
   * none was saved (the sample was not broken, or {@code save_adversarial} was off).
   */
  Adversarial adversarial(long sampleId) {
    return adversarial.get(sampleId);
  }

  /** Every record of {@code others} added to this (read-only) ledger's maps; for merges. */
  void absorb(Ledger other) {
    clean.putAll(other.clean);
    adversarial.putAll(other.adversarial);
    for (Map.Entry<Double, Map<Integer, Map<Long, CascadeJournal.Attempt>>> e :
        other.attempts.entrySet()) {
      Map<Integer, Map<Long, CascadeJournal.Attempt>> mine =
          attempts.computeIfAbsent(e.getKey(), k -> new HashMap<>());
      for (Map.Entry<Integer, Map<Long, CascadeJournal.Attempt>> a : e.getValue().entrySet()) {
        mine.computeIfAbsent(a.getKey(), k -> new HashMap<>()).putAll(a.getValue());
      }
    }
    for (Map.Entry<Double, Map<Integer, CascadeJournal.Spent>> e : other.previous.entrySet()) {
      Map<Integer, CascadeJournal.Spent> mine =
          previous.computeIfAbsent(e.getKey(), k -> new LinkedHashMap<>());
      e.getValue().forEach((k, v) -> mine.merge(k, v, CascadeJournal.Spent::plus));
    }
  }

  /** Appends one line and forces it to disk (no-op in memory). */
  private void append(Object line) {
    if (channel == null) {
      return;
    }
    if (closed) {
      throw new IllegalStateException("ledger " + file + " used after close()");
    }
    try {
      byte[] json = JSON.writeValueAsBytes(line);
      ByteBuffer buf = ByteBuffer.allocate(json.length + 1);
      buf.put(json).put((byte) '\n').flip();
      while (buf.hasRemaining()) {
        channel.write(buf);
      }
      channel.force(false);
    } catch (IOException e) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          "cannot append to the ledger " + file + ": " + e.getMessage(),
          null,
          e);
    }
  }

  /** Releases the lock and closes the file; safe to call twice. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (lock != null && lock.isValid()) {
        lock.release();
      }
    } catch (IOException e) {
      // closing the channel releases it anyway
    }
    closeQuietly(channel);
  }

  private static void closeQuietly(FileChannel ch) {
    if (ch != null) {
      try {
        ch.close();
      } catch (IOException e) {
        // nothing was pending: every line was forced when written
      }
    }
  }
}
