package dev.arat.evaluator.report;

import dev.arat.attack.ModelCalls;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.specs.AtomicFiles;
import dev.arat.specs.Specs;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerException;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * Writes a {@link Report} as {@code report.json} (snake_case JSON, Jackson, {@link Specs#json()};
 * layout in docs/report-schema.md), {@code report.md} (a short Markdown summary for a pull
 * request), {@code junit.xml} (one test case per gate plus one for trust, for CI test views) and
 * PNG plots ({@link Plots}). Files are written atomically (temporary file, then rename).
 */
public final class ReportFiles {
  /** File name of the JSON report. */
  public static final String JSON_FILE = "report.json";

  /** File name of the Markdown summary. */
  public static final String MARKDOWN_FILE = "report.md";

  /** File name of the JUnit XML report. */
  public static final String JUNIT_FILE = "junit.xml";

  private ReportFiles() {}

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

  /** Writes {@code dir/junit.xml}; returns its path. */
  public static Path writeJUnit(Report report, Path dir) {
    Path file = dir.resolve(JUNIT_FILE);
    write(file, toJUnit(report));
    return file;
  }

  /**
   * Writes every report file into {@code dir}. The plots ({@value Plots#EPSILON_FILE}, {@value
   * Plots#CLASS_FILE}) come first and the verdict files last ({@code report.md}, {@code junit.xml},
   * then {@code report.json}), each atomically: a run that fails or hangs while plotting leaves no
   * verdict behind.
   *
   * @return the written files: {@code report.json}, {@code report.md}, {@code junit.xml}, then the
   *     plots
   */
  public static List<Path> writeAll(Report report, Path dir) {
    List<Path> plots = Plots.writeAll(report, dir);
    Path md = writeMarkdown(report, dir);
    Path junit = writeJUnit(report, dir);
    List<Path> out = new ArrayList<>();
    out.add(writeJson(report, dir));
    out.add(md);
    out.add(junit);
    out.addAll(plots);
    return out;
  }

  /**
   * The JUnit XML of {@code report}: one {@code testsuite} named {@code arat.<suite name>} with a
   * {@code testcase} {@code trusted} (failing when a diagnostic is fatal) and one {@code testcase}
   * per gate (classname {@code arat.gates}; a failed gate has a {@code failure}, a skipped one a
   * {@code skipped}), and the headline numbers as {@code properties}.
   */
  public static String toJUnit(Report r) {
    return toJUnit(r, List.of());
  }

  /**
   * {@link #toJUnit(Report)} with {@code variantGates} (the {@code max_robust_drop_vs_parent[...]}
   * and {@code min_top1_agreement[...]} gates of {@code arat evaluate --variant}) as further test
   * cases after the report's own gates.
   */
  public static String toJUnit(Report r, List<Report.Gate> variantGates) {
    List<Report.Gate> allGates = new ArrayList<>(r.gates());
    allGates.addAll(variantGates);
    try {
      Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().newDocument();
      Element suites = doc.createElement("testsuites");
      doc.appendChild(suites);
      Element suite = doc.createElement("testsuite");
      suites.appendChild(suite);
      int failures = 0;
      int skipped = 0;
      String secs = String.format(Locale.ROOT, "%.3f", r.durationSeconds());
      suite.setAttribute(
          "name",
          "arat."
              + r.suite().name()
              + (r.shard() == null
                  ? ""
                  : ".shard-" + r.shard().index() + "-of-" + r.shard().count()));
      Element props = doc.createElement("properties");
      suite.appendChild(props);
      property(doc, props, "threat_model", r.threatModel().label());
      property(doc, props, "samples", String.valueOf(r.samples()));
      property(doc, props, "clean_accuracy", num(r.cleanAccuracy()));
      property(doc, props, "robust_accuracy", num(r.robustAccuracy()));
      property(
          doc,
          props,
          "robust_accuracy_ci95",
          num(r.robustAccuracyCi95().low()) + "," + num(r.robustAccuracyCi95().high()));
      property(doc, props, "model_sha256", String.valueOf(r.model().sha256()));
      property(doc, props, "trusted", String.valueOf(r.trusted()));

      Element trusted = testcase(doc, suite, "trusted", secs);
      if (!r.trusted()) {
        failures++;
        StringBuilder body = new StringBuilder();
        for (Diagnostic d : r.diagnosticRecords()) {
          if (d.fatal()) {
            body.append(d.line()).append(" (").append(d.doc()).append(")\n");
          }
        }
        Element f = doc.createElement("failure");
        f.setAttribute("type", "untrusted");
        f.setAttribute("message", "the measurement cannot be trusted (fatal diagnostics)");
        f.setTextContent(body.toString());
        trusted.appendChild(f);
      }
      for (Report.Gate g : allGates) {
        Element tc = testcase(doc, suite, g.name(), "0");
        String msg = gateText(g);
        if (g.skipped()) {
          skipped++;
          Element sk = doc.createElement("skipped");
          sk.setAttribute("message", g.detail() == null ? "not checked" : g.detail());
          tc.appendChild(sk);
        } else if (!g.passed()) {
          failures++;
          Element f = doc.createElement("failure");
          f.setAttribute("type", "gate");
          f.setAttribute("message", msg);
          f.setTextContent(msg + (g.detail() == null ? "" : "\n" + g.detail()));
          tc.appendChild(f);
        } else {
          Element out = doc.createElement("system-out");
          out.setTextContent(msg + (g.detail() == null ? "" : "\n" + g.detail()));
          tc.appendChild(out);
        }
      }
      int tests = 1 + allGates.size();
      for (Element e : List.of(suites, suite)) {
        e.setAttribute("tests", String.valueOf(tests));
        e.setAttribute("failures", String.valueOf(failures));
        e.setAttribute("errors", "0");
        e.setAttribute("skipped", String.valueOf(skipped));
        e.setAttribute("time", secs);
      }
      suites.setAttribute("name", "arat");
      Transformer t = TransformerFactory.newInstance().newTransformer();
      t.setOutputProperty(OutputKeys.INDENT, "yes");
      t.setOutputProperty(OutputKeys.ENCODING, "UTF-8");
      t.setOutputProperty("{http://xml.apache.org/xslt}indent-amount", "2");
      StringWriter w = new StringWriter();
      t.transform(new DOMSource(doc), new StreamResult(w));
      return w.toString().replace("?><testsuites", "?>\n<testsuites")
          + (w.toString().endsWith("\n") ? "" : "\n");
    } catch (ParserConfigurationException | TransformerException e) {
      throw new IllegalStateException("cannot write JUnit XML: " + e.getMessage(), e);
    }
  }

  private static Element testcase(Document doc, Element suite, String name, String time) {
    Element tc = doc.createElement("testcase");
    tc.setAttribute("classname", "arat.gates");
    tc.setAttribute("name", name);
    tc.setAttribute("time", time);
    suite.appendChild(tc);
    return tc;
  }

  private static void property(Document doc, Element props, String name, String value) {
    Element p = doc.createElement("property");
    p.setAttribute("name", name);
    p.setAttribute("value", value);
    props.appendChild(p);
  }

  private static String num(double v) {
    return String.format(Locale.ROOT, "%.6f", v);
  }

  /**
   * A note when the suite asked for more samples than the test set has (every image was then used),
   * else null.
   */
  public static String samplesNote(Report r) {
    int asked = r.suite().settings() == null ? 0 : r.suite().settings().samples();
    int size = r.dataset().testSize();
    if (size <= 0 || asked <= size) {
      return null;
    }
    return String.format(
        Locale.ROOT,
        "the suite asks for %d samples but the %s test set has only %d images, so all %d"
            + " were used (set samples or --samples to at most %d to silence this)",
        asked,
        r.dataset().name(),
        size,
        size,
        size);
  }

  /** {@code min_robust_accuracy: 41.00% >= 40.00% (wilson_lower)} and the like. */
  public static String gateText(Report.Gate g) {
    if (g.skipped()) {
      return g.name() + ": skipped" + (g.detail() == null ? "" : " (" + g.detail() + ")");
    }
    boolean max = "max".equals(g.comparison());
    String op = max ? (g.passed() ? "<=" : ">") : (g.passed() ? ">=" : "<");
    String bound =
        g.bound() == null || g.bound().equals("point")
            ? ""
            : " (" + g.bound().replace('_', ' ') + ")";
    return String.format(
        Locale.ROOT, "%s: %s %s %s%s", g.name(), pct(g.value()), op, pct(g.threshold()), bound);
  }

  /** The JSON text of {@code report} (indented, snake_case, null fields omitted). */
  public static String toJson(Report report) {
    return Specs.toJson(report) + "\n";
  }

  /**
   * Reads a {@code report.json} back (strict: unknown fields are errors; messages name the field).
   */
  public static Report readJson(String json) {
    try {
      return Specs.parseJson(json, Report.class, JSON_FILE);
    } catch (dev.arat.specs.SpecException e) {
      throw new IllegalArgumentException("not a valid report: " + e.getMessage(), e);
    }
  }

  /**
   * The verdict of a trusted report in one line: {@code PASSED: every gate passed}, {@code FAILED:
   * a gate failed}, or {@code NO GATES: ...} when the suite set no gate that could be checked (the
   * exit code is then 0, but nothing was certified); a suite of black-box attacks only adds {@code
   * (BLACK-BOX ONLY ...)}.
   */
  public static String verdictLine(Report r) {
    String line =
        noGates(r)
            ? "NO GATES: the suite sets no gate, so nothing was checked (set gates.min_robust_accuracy in the suite or"
                + " pass --min-robust-accuracy X)"
            : r.passed() ? "PASSED: every gate passed" : "FAILED: a gate failed";
    return line
        + (r.suite().settings().blackBoxOnly()
            ? " (BLACK-BOX ONLY: no gradient attack was run)"
            : "");
  }

  /** Whether no gate of {@code r} was checked (none set, or all skipped). */
  static boolean noGates(Report r) {
    return r.gates().stream().allMatch(Report.Gate::skipped);
  }

  /**
   * Environment variable with the web address of arat's documentation (the folder holding {@code
   * docs/}, e.g. a repository's tree URL); report.md then links each diagnostic to its section.
   */
  public static final String DOCS_URL_ENV = "ARAT_DOCS_URL";

  /**
   * How report.md points to a diagnostic's documentation: a link under {@code base} when given,
   * else the path as text ({@code docs/diagnostics.md#arat-d003 in arat's documentation}), never a
   * relative link that breaks once report.md is shown in another repository's pull request.
   */
  public static String docReference(String doc, String base) {
    if (base != null
        && !base.isBlank()
        && (base.startsWith("https://") || base.startsWith("http://"))) {
      return "[doc](" + (base.endsWith("/") ? base : base + "/") + doc + ")";
    }
    return "see `" + doc + "` in arat's documentation";
  }

  /** The Markdown summary of {@code report}. */
  public static String toMarkdown(Report r) {
    StringBuilder b = new StringBuilder();
    String verdict =
        !r.trusted()
            ? "⚠️ **untrusted**"
            : noGates(r) ? "ℹ️ **no gates set**" : r.passed() ? "✅ **passed**" : "❌ **failed**";
    if (r.suite().settings().blackBoxOnly()) {
      verdict += " (**black-box only**)";
    }
    b.append("## arat robustness report: ")
        .append(r.suite().name())
        .append(" — ")
        .append(verdict)
        .append("\n\n");
    b.append(
        String.format(
            Locale.ROOT,
            "Threat model **%s**, %d samples of %s (%s split), seed %d%s.%n%n",
            r.threatModel().label(),
            r.samples(),
            r.dataset().name(),
            r.dataset().split(),
            r.seed(),
            r.shard() == null
                ? ""
                : ", **shard " + r.shard() + "** (partial; gates apply to the merged report)"));
    String capped = samplesNote(r);
    if (capped != null) {
      b.append("> **Note:** ").append(capped).append(".\n\n");
    }
    b.append("| metric | value | 95% CI |\n|---|---:|---|\n");
    b.append(
        String.format(
            Locale.ROOT,
            "| clean accuracy | %s (%d/%d) | %s |%n",
            pct(r.cleanAccuracy()),
            r.cleanCorrect(),
            r.samples(),
            ci(r.cleanAccuracyCi95())));
    b.append(
        String.format(
            Locale.ROOT,
            "| robust accuracy | %s (%d/%d) | %s |%n%n",
            pct(r.robustAccuracy()),
            r.robustCount(),
            r.samples(),
            ci(r.robustAccuracyCi95())));
    b.append(
        "### Attacks (cascade)\n\n| # | attack | ran on | broke | robust after | violations | time |"
            + " forward calls (images) | gradient calls (images) |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (Report.AttackEntry a : r.attacks()) {
      ModelCalls c = a.modelCalls();
      b.append(
          String.format(
              Locale.ROOT,
              "| %d | `%s` | %s | %d | %s | %d | %s | %s | %s |%n",
              a.index() + 1,
              a.name(),
              a.skipped() ? "skipped" : String.valueOf(a.attempted()),
              a.successes(),
              pct(a.robustAccuracyAfter()),
              a.violations(),
              Progress.duration(a.seconds()),
              c == null ? "" : calls(c.forwardCalls(), c.forwardImages()),
              c == null ? "" : calls(c.gradientCalls(), c.gradientImages())));
    }
    b.append(
        String.format(
            Locale.ROOT,
            "%nLargest counted perturbation: Linf %.5g, L2 %.5g.%n",
            r.maxPerturbation().linf(),
            r.maxPerturbation().l2()));
    if (!r.gates().isEmpty()) {
      b.append(
          "\n### Gates\n\n| gate | threshold | value | decided on | |\n|---|---:|---:|---|---|\n");
      for (Report.Gate g : r.gates()) {
        String cmp = "max".equals(g.comparison()) ? "≤ " : "≥ ";
        b.append(
            String.format(
                Locale.ROOT,
                "| %s | %s%s | %s | %s | %s |%n",
                g.name(),
                cmp,
                pct(g.threshold()),
                g.skipped() ? "—" : pct(g.value()),
                g.bound() == null ? "point" : g.bound().replace('_', ' '),
                g.skipped() ? "⏭️ skipped" : g.passed() ? "✅" : "❌"));
      }
      for (Report.Gate g : r.gates()) {
        if (g.detail() != null) {
          b.append("\n- `").append(g.name()).append("`: ").append(g.detail());
        }
      }
      if (r.gates().stream().anyMatch(g -> g.detail() != null)) {
        b.append('\n');
      }
    }
    if (r.sweep() != null) {
      b.append(
          "\n### Epsilon sweep\n\n| epsilon | robust accuracy | 95% CI | violations |\n|---:|---:|---|---:|\n");
      for (Report.SweepEntry e : r.sweep()) {
        b.append(
            String.format(
                Locale.ROOT,
                "| %s | %s (%d/%d) | %s | %d |%n",
                dev.arat.specs.ThreatModel.formatEpsilon(e.epsilon()),
                pct(e.robustAccuracy()),
                e.robustCount(),
                r.samples(),
                ci(e.robustAccuracyCi95()),
                e.violations()));
      }
    }
    if (!r.perClass().isEmpty()) {
      b.append(
          "\n<details><summary>Per class</summary>\n\n| class | samples | clean | robust | 95% CI |\n"
              + "|---:|---:|---:|---:|---|\n");
      for (Report.ClassEntry c : r.perClass()) {
        b.append(
            String.format(
                Locale.ROOT,
                "| %s | %d | %s | %s | %s |%n",
                c.display(),
                c.samples(),
                pct(c.cleanAccuracy()),
                pct(c.robustAccuracy()),
                ci(c.robustAccuracyCi95())));
      }
      b.append("\n</details>\n");
    }
    if (r.baseline() != null) {
      Report.Baseline bl = r.baseline();
      b.append(
          String.format(
              Locale.ROOT,
              "%n### Against the baseline%n%nRobust accuracy %s → %s (drop %s)%s; %d"
                  + " sample(s) newly broken, %d newly robust.%n",
              pct(bl.robustAccuracy()),
              pct(r.robustAccuracy()),
              pct(bl.drop()),
              bl.sameSamples() ? "" : " on different samples",
              bl.newlyBroken().size(),
              bl.newlyRobust().size()));
      if (!bl.newlyBroken().isEmpty()) {
        b.append("\nNewly broken (dataset indices): ")
            .append(ReportAssembler.abbreviate(bl.newlyBroken(), 50))
            .append('\n');
      }
    }
    if (!r.violations().isEmpty()) {
      b.append(
          String.format(
              Locale.ROOT,
              "%n⚠️ %d budget violation(s) rejected: the measurement cannot be trusted.%n",
              r.violations().size()));
    }
    if (!r.diagnosticRecords().isEmpty()) {
      b.append("\n### Diagnostics\n\n");
      for (Diagnostic d : r.diagnosticRecords()) {
        String icon = d.fatal() ? "⛔" : d.severity() == Diagnostic.Severity.WARNING ? "⚠️" : "ℹ️";
        b.append("- ")
            .append(icon)
            .append(" **")
            .append(d.code())
            .append("** ")
            .append(d.name())
            .append(": ")
            .append(d.message())
            .append(" (")
            .append(docReference(d.doc(), System.getenv(DOCS_URL_ENV)))
            .append(")\n");
      }
    } else if (!r.diagnostics().isEmpty()) {
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
    b.append("- model: `")
        .append(r.model().path())
        .append("` sha256 `")
        .append(r.model().sha256())
        .append("`\n");
    for (Map.Entry<String, String> e : r.model().metadata().entrySet()) {
      String v =
          e.getValue().length() > 120 ? e.getValue().substring(0, 117) + "..." : e.getValue();
      b.append("  - ")
          .append(e.getKey())
          .append(": `")
          .append(v.replace('`', '\'').replace('\n', ' '))
          .append("`\n");
    }
    b.append("- samples sha256 `").append(r.dataset().samplesSha256()).append("`\n");
    dev.arat.data.TestSets.Source src = r.dataset().source();
    if (src != null) {
      b.append("- test set: ")
          .append(src.kind())
          .append(src.path() == null ? "" : " `" + src.path() + "`")
          .append(src.labelsPath() == null ? "" : " + `" + src.labelsPath() + "`")
          .append(", ")
          .append(src.layout())
          .append(", ")
          .append(src.files())
          .append(" file(s)")
          .append(src.sha256() == null ? "" : ", sha256 `" + src.sha256() + "`")
          .append('\n');
    }
    b.append("- ").append(r.tool().name()).append(' ').append(r.tool().version());
    if (r.tool().onnxruntime() != null) {
      b.append(", ONNX Runtime ").append(r.tool().onnxruntime());
    }
    b.append(", Java ").append(r.tool().java());
    if (r.tool().executionProvider() != null) {
      b.append(", provider ").append(r.tool().executionProvider());
    }
    if (r.tool().graphOptimization() != null) {
      b.append(", graph optimisation ").append(r.tool().graphOptimization());
    }
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

  /** {@code 12 (3,000)}: calls and the images in them, for report.md. */
  private static String calls(long calls, long images) {
    return String.format(Locale.ROOT, "%,d (%,d)", calls, images);
  }
}
