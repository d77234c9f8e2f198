package dev.arat.trainer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.arat.specs.AtomicFiles;
import dev.arat.specs.Specs;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Derived views of a run's {@code metrics.jsonl}, rewritten from it after every epoch (so they
 * always agree with it, also after a resume that dropped later lines):
 *
 * <ul>
 *   <li>{@code metrics.csv}: one row per epoch, the columns are every key of the JSON lines in
 *       order of first appearance (RFC 4180 quoting; JSON null and absent values are empty cells;
 *       nested objects are written as their JSON text).
 *   <li>{@code training.png}: two panels rendered with XChart (headless AWT): the losses ({@code
 *       loss}, {@code loss_ce_adv}, {@code loss_ce_clean}, {@code loss_inv}) and the accuracies
 *       ({@code clean_accuracy_adv_bn}, {@code clean_accuracy_clean_bn}, {@code pgd_accuracy},
 *       {@code train_accuracy}) per epoch. Epochs without a value (no evaluation that epoch, or a
 *       method without that term) are left out of the series.
 * </ul>
 */
public final class MetricsFiles {
  private MetricsFiles() {}

  /** Loss series drawn in the upper panel. */
  static final List<String> LOSSES = List.of("loss", "loss_ce_adv", "loss_ce_clean", "loss_inv");

  /** Accuracy series drawn in the lower panel. */
  static final List<String> ACCURACIES =
      List.of("clean_accuracy_adv_bn", "clean_accuracy_clean_bn", "pgd_accuracy", "train_accuracy");

  /** Reads the JSON lines of a metrics file (blank or torn lines skipped). */
  static List<JsonNode> read(Path jsonl) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    if (!Files.exists(jsonl)) {
      return out;
    }
    for (String line : Files.readAllLines(jsonl, StandardCharsets.UTF_8)) {
      if (line.isBlank()) {
        continue;
      }
      try {
        out.add(Specs.json().readTree(line));
      } catch (IOException e) {
        // torn line of a killed run
      }
    }
    return out;
  }

  /** Appends {@code line} to a JSON-lines file as one compact JSON object (creating the file). */
  static void append(Path jsonl, Map<String, Object> line) throws IOException {
    appendLine(jsonl, compactJson(line));
  }

  /** Appends epoch {@code metrics}' line ({@link EpochMetrics#toJson()}) to {@code jsonl}. */
  static void append(Path jsonl, EpochMetrics metrics) throws IOException {
    appendLine(jsonl, metrics.toJson());
  }

  private static void appendLine(Path jsonl, String json) throws IOException {
    Files.writeString(
        jsonl,
        json + "\n",
        StandardCharsets.UTF_8,
        StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
  }

  /** {@code value} as one compact JSON text through the project's mapper (nulls left out). */
  static String compactJson(Object value) {
    try {
      return Specs.json()
          .writer()
          .without(SerializationFeature.INDENT_OUTPUT)
          .writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Rewrites a JSON-lines file keeping only the lines {@code keep} accepts, unchanged and in order;
   * blank and torn lines (a killed run's last) are dropped. A missing file stays missing.
   */
  static void keepLines(Path jsonl, Predicate<JsonNode> keep) throws IOException {
    if (!Files.exists(jsonl)) {
      return;
    }
    StringBuilder kept = new StringBuilder();
    for (String line : Files.readAllLines(jsonl, StandardCharsets.UTF_8)) {
      if (line.isBlank()) {
        continue;
      }
      try {
        if (keep.test(Specs.json().readTree(line))) {
          kept.append(line).append('\n');
        }
      } catch (IOException e) {
        // a torn last line from a killed run: drop it
      }
    }
    AtomicFiles.writeString(jsonl, kept.toString());
  }

  /** Writes {@code metrics.csv} next to {@code metrics.jsonl} in {@code runDir}. */
  public static void writeCsv(Path runDir) throws IOException {
    List<JsonNode> rows = read(runDir.resolve("metrics.jsonl"));
    Set<String> cols = new LinkedHashSet<>();
    for (JsonNode r : rows) {
      for (Iterator<String> it = r.fieldNames(); it.hasNext(); ) {
        cols.add(it.next());
      }
    }
    StringBuilder sb = new StringBuilder();
    sb.append(String.join(",", cols.stream().map(MetricsFiles::quote).toList())).append('\n');
    for (JsonNode r : rows) {
      List<String> cells = new ArrayList<>();
      for (String c : cols) {
        JsonNode v = r.get(c);
        cells.add(
            v == null || v.isNull() ? "" : quote(v.isValueNode() ? v.asText() : v.toString()));
      }
      sb.append(String.join(",", cells)).append('\n');
    }
    AtomicFiles.writeString(runDir.resolve("metrics.csv"), sb.toString());
  }

  private static String quote(String s) {
    if (s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r")) {
      return "\"" + s.replace("\"", "\"\"") + "\"";
    }
    return s;
  }

  /** Renders {@code training.png} in {@code runDir} from its {@code metrics.jsonl}. */
  public static void writePlot(Path runDir) throws IOException {
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
    List<JsonNode> rows = read(runDir.resolve("metrics.jsonl"));
    XYChart losses = chart("Training losses", "loss");
    XYChart accs = chart("Accuracy", "accuracy");
    int nl = addSeries(losses, rows, LOSSES);
    int na = addSeries(accs, rows, ACCURACIES);
    List<XYChart> charts = new ArrayList<>();
    if (nl > 0) {
      charts.add(losses);
    }
    if (na > 0) {
      charts.add(accs);
    }
    if (charts.isEmpty()) {
      return;
    }
    Path out = runDir.resolve("training.png");
    Path tmp = Files.createTempFile(runDir, ".training", ".png.tmp");
    try {
      try (OutputStream os = Files.newOutputStream(tmp)) {
        BitmapEncoder.saveBitmap(charts, charts.size(), 1, os, BitmapEncoder.BitmapFormat.PNG);
      }
      dev.arat.specs.AtomicFiles.move(tmp, out);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static XYChart chart(String title, String yTitle) {
    XYChart c =
        new XYChartBuilder()
            .width(800)
            .height(360)
            .title(title)
            .xAxisTitle("epoch")
            .yAxisTitle(yTitle)
            .build();
    c.getStyler().setMarkerSize(6);
    return c;
  }

  private static int addSeries(XYChart chart, List<JsonNode> rows, List<String> keys) {
    int added = 0;
    for (String k : keys) {
      List<Double> xs = new ArrayList<>();
      List<Double> ys = new ArrayList<>();
      for (JsonNode r : rows) {
        JsonNode v = r.get(k);
        JsonNode e = r.get("epoch");
        if (v != null && v.isNumber() && e != null && Double.isFinite(v.asDouble())) {
          xs.add(e.asDouble());
          ys.add(v.asDouble());
        }
      }
      if (!xs.isEmpty()) {
        chart.addSeries(k, xs, ys).setMarker(SeriesMarkers.CIRCLE);
        added++;
      }
    }
    return added;
  }
}
