package dev.arat.evaluator;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.arat.specs.AtomicFiles;
import dev.arat.specs.Specs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a {@link Report} as {@code report.json} (snake_case JSON, Jackson, {@link Specs#json()})
 * and {@code report.md} (a short Markdown summary for a pull request). Files are written atomically
 * (temporary file, then rename).
 */
public final class ReportWriter {
  /** File name of the JSON report. */
  public static final String JSON_FILE = "report.json";
  /** File name of the Markdown summary. */
  public static final String MARKDOWN_FILE = "report.md";

  private ReportWriter() {}

  /** Writes {@code dir/report.json}; returns its path. */
  public static Path writeJson(Report report, Path dir) {
    Path file = dir.resolve(JSON_FILE);
    write(file, toJson(report));
    return file;
  }

  /** Writes {@code dir/report.md}; returns its path. */
  public static Path writeMarkdown(Report report, Path dir) {
    Path file = dir.resolve(MARKDOWN_FILE);
    write(file, toMarkdown(report));
    return file;
  }

  /** The JSON text of {@code report} (indented, snake_case, null fields omitted). */
  public static String toJson(Report report) {
    return Specs.toJson(report) + "\n";
  }

  /** Reads a {@code report.json} back (strict: unknown fields are errors). */
  public static Report readJson(String json) {
    try {
      return Specs.json().readValue(json, Report.class);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not a report.json: " + e.getOriginalMessage(), e);
    }
  }

  /** The Markdown summary of {@code report}. */
  public static String toMarkdown(Report r) {
    StringBuilder b = new StringBuilder();
    String verdict = !r.trusted() ? "⚠️ **untrusted**" : r.passed() ? "✅ **passed**" : "❌ **failed**";
    b.append("## arat robustness report: ").append(r.suite().name()).append(" — ").append(verdict).append("\n\n");
    b.append(String.format(Locale.ROOT, "Threat model **%s**, %d samples of %s (%s split), seed %d.%n%n",
        r.threatModel().label(), r.samples(), r.dataset().name(), r.dataset().split(), r.seed()));
    b.append("| metric | value | 95% CI |\n|---|---:|---|\n");
    b.append(String.format(Locale.ROOT, "| clean accuracy | %s (%d/%d) | %s |%n", pct(r.cleanAccuracy()), r.cleanCorrect(),
        r.samples(), ci(r.cleanAccuracyCi95())));
    b.append(String.format(Locale.ROOT, "| robust accuracy | %s (%d/%d) | %s |%n%n", pct(r.robustAccuracy()),
        r.robustCount(), r.samples(), ci(r.robustAccuracyCi95())));
    b.append("### Attacks (cascade)\n\n| # | attack | ran on | broke | robust after | violations | time |\n"
        + "|---:|---|---:|---:|---:|---:|---:|\n");
    for (Report.AttackEntry a : r.attacks()) {
      b.append(String.format(Locale.ROOT, "| %d | `%s` | %s | %d | %s | %d | %s |%n", a.index() + 1, a.name(),
          a.skipped() ? "skipped" : String.valueOf(a.attempted()), a.successes(), pct(a.robustAccuracyAfter()),
          a.violations(), Progress.duration(a.seconds())));
    }
    b.append(String.format(Locale.ROOT, "%nLargest counted perturbation: Linf %.5g, L2 %.5g.%n",
        r.maxPerturbation().linf(), r.maxPerturbation().l2()));
    if (!r.gates().isEmpty()) {
      b.append("\n### Gates\n\n| gate | threshold | value | |\n|---|---:|---:|---|\n");
      for (Report.Gate g : r.gates()) {
        b.append(String.format(Locale.ROOT, "| %s | %s | %s | %s |%n", g.name(), pct(g.threshold()), pct(g.value()),
            g.passed() ? "✅" : "❌"));
      }
    }
    if (!r.violations().isEmpty()) {
      b.append(String.format(Locale.ROOT, "%n⚠️ %d budget violation(s) rejected: the measurement cannot be trusted.%n",
          r.violations().size()));
    }
    if (!r.diagnostics().isEmpty()) {
      b.append("\n### Diagnostics\n\n");
      for (String d : r.diagnostics()) {
        b.append("- ").append(d).append('\n');
      }
    }
    b.append("\n<details><summary>Settings and provenance</summary>\n\n");
    for (Report.AttackEntry a : r.attacks()) {
      b.append("- `").append(a.name()).append("`: ");
      boolean first = true;
      for (Map.Entry<String, Object> e : a.settings().entrySet()) {
        b.append(first ? "" : ", ").append(e.getKey()).append('=').append(e.getValue());
        first = false;
      }
      b.append('\n');
    }
    b.append("- model: `").append(r.model().path()).append("` sha256 `").append(r.model().sha256()).append("`\n");
    for (Map.Entry<String, String> e : r.model().metadata().entrySet()) {
      String v = e.getValue().length() > 120 ? e.getValue().substring(0, 117) + "..." : e.getValue();
      b.append("  - ").append(e.getKey()).append(": `").append(v.replace('`', '\'').replace('\n', ' ')).append("`\n");
    }
    b.append("- samples sha256 `").append(r.dataset().samplesSha256()).append("`\n");
    b.append("- ").append(r.tool().name()).append(' ').append(r.tool().version());
    if (r.tool().onnxruntime() != null) {
      b.append(", ONNX Runtime ").append(r.tool().onnxruntime());
    }
    b.append(", Java ").append(r.tool().java());
    b.append(String.format(Locale.ROOT, "; %s total%n", Progress.duration(r.durationSeconds())));
    b.append("\n</details>\n");
    return b.toString();
  }

  private static String pct(double v) {
    return String.format(Locale.ROOT, "%.2f%%", 100 * v);
  }

  private static String ci(Report.Interval i) {
    return String.format(Locale.ROOT, "[%.2f%%, %.2f%%]", 100 * i.low(), 100 * i.high());
  }

  private static void write(Path file, String text) {
    try {
      AtomicFiles.writeString(file, text);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
    }
  }
}
