package dev.arat.evaluator.run;

import dev.arat.attack.Attack;
import dev.arat.attack.Cascade;
import dev.arat.attack.CascadeJournal;
import dev.arat.attack.CascadeResult;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportAssembler;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.LossHead;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Combines the ledgers of shard runs ({@code arat evaluate --shard k/n --out DIR_k}) into the
 * report of a single run: the cascade is replayed from the recorded per-sample outcomes (no model
 * is needed), in the order of the suite's chosen samples, and the report is assembled exactly as
 * {@link SuiteRunner} does. Every field equals a single run's except those {@link
 * Report#withoutRunDetails()} removes (durations, paths); attack {@code seconds} become the sum of
 * the shards' times. Settings that shards may legitimately differ in ({@code name}, {@code
 * batch_size}, {@code gates}, {@code data.path}) and the tool versions are taken from shard 1.
 *
 * <p>Errors are {@link EvaluationException}s of kind INPUT naming the folder: a missing ledger,
 * shards of different evaluations (model, suite, samples), a shard given twice or missing, or an
 * unfinished shard (rerun it with the same arguments to complete it).
 */
public final class Merge {
  private Merge() {}

  /**
   * Merges shard ledgers.
   *
   * @param shardDirs output folders of the shard runs (or their {@code ledger.jsonl} files), all
   *     {@code n} shards of one evaluation, in any order
   * @param baseline a baseline {@code report.json} for the drop gate, or null
   * @return the merged report (gates applied)
   */
  public static Report merge(List<Path> shardDirs, Path baseline) {
    return mergeLedgers(shardDirs, baseline).report();
  }

  /** A merged report with the combined ledger it was replayed from. */
  private record Merged(Report report, Ledger ledger) {}

  private static Merged mergeLedgers(List<Path> shardDirs, Path baseline) {
    long t0 = System.nanoTime();
    if (shardDirs == null || shardDirs.isEmpty()) {
      throw new IllegalArgumentException("merge: give the output folders of all shards");
    }
    Map<Integer, Ledger> byShard = new TreeMap<>();
    Map<Integer, Path> where = new TreeMap<>();
    Ledger.Header first = null;
    Path firstDir = null;
    List<Diagnostic> extra = new ArrayList<>();
    for (Path dir : shardDirs) {
      Ledger l = Ledger.read(dir);
      Ledger.Header h = l.header();
      if (first == null) {
        first = h;
        firstDir = dir;
      } else {
        String why = differencesIgnoringShard(first, h);
        if (why != null) {
          throw new EvaluationException(
              EvaluationException.Kind.INPUT,
              "cannot merge "
                  + dir
                  + " with "
                  + firstDir
                  + ": they are shards of different evaluations ("
                  + why
                  + ")");
        }
        if (h.shard().count() != first.shard().count()) {
          throw new EvaluationException(
              EvaluationException.Kind.INPUT,
              "cannot merge "
                  + dir
                  + " (shard "
                  + h.shard()
                  + ") with "
                  + firstDir
                  + " (shard "
                  + first.shard()
                  + "): different shard counts");
        }
        if (!Objects.equals(h.tool(), first.tool())
            || !Objects.equals(h.provider(), first.provider())) {
          extra.add(
              Diagnostic.Code.SHARD_MISMATCH.of(
                  "shard "
                      + h.shard()
                      + " ran with "
                      + h.tool()
                      + " on "
                      + h.provider()
                      + ", shard "
                      + first.shard()
                      + " with "
                      + first.tool()
                      + " on "
                      + first.provider()
                      + "; results may differ in the last bits near decision boundaries"));
        }
      }
      Ledger dup = byShard.put(h.shard().index(), l);
      if (dup != null) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            "shard "
                + h.shard()
                + " is given twice: "
                + where.get(h.shard().index())
                + " and "
                + dir);
      }
      where.put(h.shard().index(), dir);
    }
    int count = first.shard().count();
    List<Integer> missing = new ArrayList<>();
    for (int k = 1; k <= count; k++) {
      if (!byShard.containsKey(k)) {
        missing.add(k);
      }
    }
    if (!missing.isEmpty()) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          "merge needs all "
              + count
              + " shards; missing "
              + missing.stream().map(k -> k + "/" + count).toList());
    }
    Ledger one = byShard.get(1);
    first = one.header(); // settings that may differ between shards (batch size, name, gates) come
    // from shard 1
    List<Diagnostic> probe = one.probe();
    if (probe == null) {
      throw unfinished(where.get(1), "it has not run its checks yet");
    }
    // NaN logits a shard met during its attacks are in its probe line (SuiteRunner): they taint the
    // merge
    for (Ledger l : byShard.values()) {
      List<Diagnostic> p = l.probe() == null ? List.of() : l.probe();
      Diagnostic nan =
          p.stream()
              .filter(d -> d.code().equals(Diagnostic.Code.NON_FINITE_LOGITS.code()))
              .findFirst()
              .orElse(null);
      if (nan != null
          && probe.stream().noneMatch(d -> d.code().equals(nan.code()))
          && extra.stream().noneMatch(d -> d.code().equals(nan.code()))) {
        extra.add(nan);
      }
    }
    for (Map.Entry<Integer, Ledger> e : byShard.entrySet()) {
      if (e.getKey() != 1
          && e.getValue().probe() != null
          && !withoutNonFinite(e.getValue().probe()).equals(withoutNonFinite(probe))) {
        extra.add(
            Diagnostic.Code.SHARD_MISMATCH.of(
                "the sanity checks of shard "
                    + e.getKey()
                    + "/"
                    + count
                    + " disagree with shard 1/"
                    + count
                    + "'s (a non-deterministic model?)"));
      }
    }
    Ledger all = Ledger.read(where.get(1));
    for (Map.Entry<Integer, Ledger> e : byShard.entrySet()) {
      if (e.getKey() != 1) {
        all.absorb(e.getValue());
      }
    }

    EvaluationSuite suite = first.suite();
    List<Integer> indices = first.sampleIndices();
    int n = indices.size();
    long[] ids = new long[n];
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = indices.get(i);
      CascadeJournal.Clean c = all.journal(suite.threatModel().epsilon()).clean(ids[i]);
      if (c == null) {
        int k = i % count + 1;
        throw unfinished(where.get(k), "sample " + ids[i] + " has no clean record");
      }
      labels[i] = c.label();
    }
    int classes = first.model().numClasses();
    GradientClassifier none = new Replay(classes);
    ImageBatch x = new ImageBatch(new float[n], n, 1, 1, 1);
    Map<Double, CascadeResult> results = new LinkedHashMap<>();
    for (double e : suite.epsilons()) {
      // replay never runs an attack, so a transfer entry may use the replay model as its surrogate
      List<Attack> attacks =
          SuiteAttacks.build(suite, ReportAssembler.threat(suite, e), classes, path -> none);
      Cascade cascade = new Cascade(ReportAssembler.threat(suite, e), attacks, suite.batchSize());
      try {
        results.put(e, cascade.run(none, none, x, labels, ids, null, all.journal(e)));
      } catch (Replay.Missing m) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            "a shard is unfinished: attack records at "
                + ReportAssembler.threat(suite, e).label()
                + " are missing; rerun every shard with the same arguments (it"
                + " resumes) and merge again",
            null,
            m);
      }
    }
    Report base = baseline == null ? null : readBaseline(baseline);
    ReportAssembler.Context ctx =
        new ReportAssembler.Context(
            suite,
            first.tool(),
            first.model(),
            first.dataset(),
            null,
            indices,
            probe,
            base,
            baseline == null ? null : baseline.toString(),
            extra,
            classNames(shardDirs));
    return new Merged(ReportAssembler.assemble(ctx, results, (System.nanoTime() - t0) / 1e9), all);
  }

  /**
   * The class names the shards' own reports carry (a shard's {@code report.json} next to its
   * ledger), or null when none has any; the ledgers themselves hold only class numbers.
   */
  static List<String> classNames(List<Path> shardDirs) {
    TreeMap<Integer, String> names = new TreeMap<>();
    for (Path dir : shardDirs) {
      Path json =
          (java.nio.file.Files.isDirectory(dir) ? dir : dir.toAbsolutePath().getParent())
              .resolve(ReportFiles.JSON_FILE);
      try {
        for (Report.ClassEntry c :
            ReportFiles.readJson(java.nio.file.Files.readString(json)).perClass()) {
          if (c.name() != null) {
            names.putIfAbsent(c.label(), c.name());
          }
        }
      } catch (java.io.IOException | RuntimeException e) {
        // no readable shard report: the merged report shows class numbers only
      }
    }
    if (names.isEmpty()) {
      return null;
    }
    List<String> out = new ArrayList<>();
    for (int k = 0; k <= names.lastKey(); k++) {
      out.add(names.get(k));
    }
    return out;
  }

  /**
   * Merges and writes every report file into {@code out}, with the shards' adversarial examples
   * ({@link Evidence}) when the suite saves them; returns the report.
   */
  public static Report mergeAndWrite(List<Path> shardDirs, Path baseline, Path out) {
    Merged m = mergeLedgers(shardDirs, baseline);
    Report r = m.report();
    ReportFiles.writeAll(r, out);
    Evidence.write(out, r, m.ledger(), m.ledger().header().suite().saveAdversarial());
    return r;
  }

  /** Reads a baseline {@code report.json} (schema 1 or 2). */
  /**
   * {@code probe} without ARAT-D016, which a shard also records when it meets NaN during its
   * attacks.
   */
  private static List<Diagnostic> withoutNonFinite(List<Diagnostic> probe) {
    return probe.stream()
        .filter(d -> !d.code().equals(Diagnostic.Code.NON_FINITE_LOGITS.code()))
        .toList();
  }

  static Report readBaseline(Path file) {
    try {
      return ReportFiles.readJson(Files.readString(file, StandardCharsets.UTF_8));
    } catch (NoSuchFileException e) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT, "baseline report not found: " + file);
    } catch (IOException e) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          "cannot read the baseline report " + file + ": " + e.getMessage(),
          null,
          e);
    } catch (IllegalArgumentException e) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          "the baseline " + file + " is " + e.getMessage(),
          null,
          e);
    }
  }

  private static String differencesIgnoringShard(Ledger.Header a, Ledger.Header b) {
    Ledger.Header b2 =
        new Ledger.Header(
            b.type(),
            b.ledgerVersion(),
            b.tool(),
            b.provider(),
            b.model(),
            b.suite(),
            b.dataset(),
            b.sampleIndices(),
            a.shard());
    return Ledger.differences(a, b2);
  }

  private static EvaluationException unfinished(Path dir, String why) {
    return new EvaluationException(
        EvaluationException.Kind.INPUT,
        "the shard in "
            + dir
            + " is unfinished ("
            + why
            + "); rerun it with the same arguments (it resumes) and merge again");
  }

  /** A model that must never be called: the journal covers everything in a complete merge. */
  private record Replay(int numClasses) implements GradientClassifier {
    static final class Missing extends RuntimeException {
      private static final long serialVersionUID = 1L;

      Missing() {
        super("a record is missing from the shard ledgers");
      }
    }

    @Override
    public float[] logits(ImageBatch x) {
      throw new Missing();
    }

    @Override
    public LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head) {
      throw new Missing();
    }
  }
}
