package dev.arat.evaluator.report;

import dev.arat.evaluator.EvaluationException;
import dev.arat.specs.AtomicFiles;
import java.awt.BasicStroke;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * PNG plots of a report, drawn with XChart on a headless AWT: robust accuracy against epsilon
 * (clean accuracy at 0, the threat model's radius and every radius of the sweep, with the 95%
 * Wilson band) and clean and robust accuracy per class. Both need only the report, so a merge draws
 * them too.
 */
public final class Plots {
  /** File name of the accuracy-against-epsilon plot. */
  public static final String EPSILON_FILE = "robust-vs-epsilon.png";

  /** File name of the per-class plot. */
  public static final String CLASS_FILE = "per-class.png";

  private Plots() {}

  /** Makes AWT headless unless the application chose otherwise. */
  public static void headless() {
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
  }

  /** Writes both plots into {@code dir}; returns their paths. */
  public static List<Path> writeAll(Report r, Path dir) {
    List<Path> out = new ArrayList<>();
    try {
      Path eps = dir.resolve(EPSILON_FILE);
      AtomicFiles.write(eps, epsilonPng(r));
      out.add(eps);
      if (!r.perClass().isEmpty()) {
        Path cls = dir.resolve(CLASS_FILE);
        AtomicFiles.write(cls, perClassPng(r));
        out.add(cls);
      }
    } catch (IOException e) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          "cannot write plots into " + dir + ": " + e.getMessage(),
          null,
          e);
    }
    return out;
  }

  /** Robust accuracy against epsilon, PNG bytes. */
  public static byte[] epsilonPng(Report r) throws IOException {
    headless();
    List<Double> x = new ArrayList<>();
    List<Double> y = new ArrayList<>();
    List<Double> lo = new ArrayList<>();
    List<Double> hi = new ArrayList<>();
    x.add(0.0);
    y.add(r.cleanAccuracy());
    lo.add(r.cleanAccuracyCi95().low());
    hi.add(r.cleanAccuracyCi95().high());
    if (r.sweep() != null) {
      for (Report.SweepEntry e : r.sweep()) {
        x.add(e.epsilon());
        y.add(e.robustAccuracy());
        lo.add(e.robustAccuracyCi95().low());
        hi.add(e.robustAccuracyCi95().high());
      }
    } else {
      x.add(r.threatModel().epsilon());
      y.add(r.robustAccuracy());
      lo.add(r.robustAccuracyCi95().low());
      hi.add(r.robustAccuracyCi95().high());
    }
    XYChart chart =
        new XYChartBuilder()
            .width(720)
            .height(460)
            .title(
                r.suite().name()
                    + ": robust accuracy against "
                    + r.threatModel().norm().id()
                    + " epsilon")
            .xAxisTitle("epsilon (" + r.threatModel().norm().id() + ", [0,1] pixel units)")
            .yAxisTitle("accuracy")
            .build();
    chart
        .getStyler()
        .setYAxisMin(0.0)
        .setYAxisMax(1.0)
        .setLegendVisible(true)
        .setChartTitleVisible(true);
    chart.getStyler().setDecimalPattern("0.###");
    XYSeries main =
        chart.addSeries(
            String.format(Locale.ROOT, "robust accuracy (%d samples)", r.samples()), x, y);
    main.setMarker(SeriesMarkers.CIRCLE);
    XYSeries low = chart.addSeries("95% Wilson interval", x, lo);
    XYSeries high = chart.addSeries("95% Wilson interval (high)", x, hi);
    for (XYSeries s : List.of(low, high)) {
      s.setMarker(SeriesMarkers.NONE);
      s.setLineStyle(
          new BasicStroke(
              1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {4f, 4f}, 0f));
      s.setLineColor(java.awt.Color.GRAY);
    }
    high.setShowInLegend(false);
    return BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
  }

  /** Clean and robust accuracy per class, PNG bytes. */
  public static byte[] perClassPng(Report r) throws IOException {
    headless();
    List<String> labels = new ArrayList<>();
    List<Double> clean = new ArrayList<>();
    List<Double> robust = new ArrayList<>();
    for (Report.ClassEntry c : r.perClass()) {
      labels.add(c.display());
      clean.add(c.cleanAccuracy());
      robust.add(c.robustAccuracy());
    }
    CategoryChart chart =
        new CategoryChartBuilder()
            .width(720)
            .height(460)
            .title(r.suite().name() + ": accuracy per class (" + r.threatModel().label() + ")")
            .xAxisTitle("class")
            .yAxisTitle("accuracy")
            .build();
    chart.getStyler().setYAxisMin(0.0).setYAxisMax(1.0).setDecimalPattern("0.##");
    chart.addSeries("clean", labels, clean);
    chart.addSeries("robust", labels, robust);
    return BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
  }
}
