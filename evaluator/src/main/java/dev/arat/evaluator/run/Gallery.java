package dev.arat.evaluator.run;

import dev.arat.attack.Attack;
import dev.arat.attack.AttackResult;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.report.Plots;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportAssembler;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * A PNG gallery of clean and adversarial examples (headless Java2D): one column per broken sample
 * (the first {@link #MAX} in sample order), rows clean image, adversarial image and the
 * perturbation (amplified to the full grey range, mid-grey is zero), captioned with label and
 * prediction. Adversarial images are recomputed by running the counting attack on the sample alone,
 * which gives the counted candidate because every draw depends only on the seed and the sample id;
 * so a resumed run draws the same gallery.
 */
final class Gallery {
  /** Largest number of examples shown. */
  static final int MAX = 8;

  private Gallery() {}

  /**
   * A class in a caption: its name (at most 10 characters) when the dataset has one, else its
   * number.
   */
  static String caption(List<String> names, int label) {
    String n = ReportAssembler.className(names, label);
    return n == null ? String.valueOf(label) : n.length() <= 10 ? n : n.substring(0, 9) + ".";
  }

  /**
   * Writes the gallery of {@code report}'s main cascade, or deletes a stale one when nothing broke.
   *
   * @param file the PNG to write
   * @param report the report (per-sample outcomes)
   * @param s the evaluated samples (same order as {@code report.perSample()})
   * @param attacks the cascade's attacks at the threat model's radius
   * @param attacked the attacked model
   * @param classNames the dataset's class names, for the captions (may be null)
   */
  static void write(
      Path file,
      Report report,
      SuiteRunner.Samples s,
      List<Attack> attacks,
      GradientClassifier attacked,
      List<String> classNames) {
    List<Integer> rows = new ArrayList<>();
    for (int i = 0; i < report.perSample().size() && rows.size() < MAX; i++) {
      if (report.perSample().get(i).attackIndex() >= 0) {
        rows.add(i);
      }
    }
    try {
      if (rows.isEmpty()) {
        Files.deleteIfExists(file);
        return;
      }
      ImageBatch x = s.x();
      int per = x.imageSize();
      float[][] clean = new float[rows.size()][];
      float[][] adv = new float[rows.size()][];
      String[] captions = new String[rows.size()];
      for (int j = 0; j < rows.size(); j++) {
        int i = rows.get(j);
        Report.SampleEntry e = report.perSample().get(i);
        ImageBatch one = x.select(new int[] {i});
        AttackResult r =
            attacks
                .get(e.attackIndex())
                .run(attacked, one, new int[] {s.labels()[i]}, new long[] {s.ids()[i]});
        clean[j] = one.data();
        adv[j] = java.util.Arrays.copyOf(r.adversarial().data(), per);
        captions[j] =
            "#"
                + e.index()
                + ": "
                + caption(classNames, e.label())
                + "->"
                + caption(classNames, e.prediction());
      }
      byte[] png = render(clean, adv, captions, x.c(), x.h(), x.w(), report.threatModel().label());
      dev.arat.specs.AtomicFiles.write(file, png);
    } catch (IOException e) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT, "cannot write " + file + ": " + e.getMessage(), null, e);
    }
  }

  /** Renders the grid as PNG bytes; images are {@code (C,H,W)} float32 in [0,1]. */
  static byte[] render(
      float[][] clean, float[][] adv, String[] captions, int c, int h, int w, String title)
      throws IOException {
    Plots.headless();
    int scale = Math.max(1, 112 / Math.max(h, w));
    int cw = Math.max(w * scale, 96);
    int pad = 8;
    int caption = 16;
    int top = 24;
    int left = 84;
    int width = left + clean.length * (cw + pad) + pad;
    int height = top + 3 * (h * scale + caption + pad) + pad;
    BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(
          RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, width, height);
      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
      g.drawString("clean vs adversarial (" + title + ")", pad, 16);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
      String[] rowNames = {"clean", "adversarial", "perturbation"};
      for (int row = 0; row < 3; row++) {
        int y0 = top + row * (h * scale + caption + pad);
        g.setColor(Color.BLACK);
        g.drawString(rowNames[row], pad, y0 + h * scale / 2);
        for (int j = 0; j < clean.length; j++) {
          int x0 = left + j * (cw + pad);
          float[] v = row == 0 ? clean[j] : row == 1 ? adv[j] : delta(clean[j], adv[j]);
          draw(img, v, c, h, w, scale, x0, y0);
          if (row == 0) {
            g.setColor(Color.BLACK);
            g.drawString(captions[j], x0, y0 + h * scale + 12);
          }
        }
      }
    } finally {
      g.dispose();
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    ImageIO.write(img, "png", bytes);
    return bytes.toByteArray();
  }

  /** The perturbation mapped to [0,1], 0.5 meaning no change, scaled by its largest magnitude. */
  private static float[] delta(float[] a, float[] b) {
    float m = 1e-12f;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(b[i] - a[i]));
    }
    float[] out = new float[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = 0.5f + 0.5f * (b[i] - a[i]) / m;
    }
    return out;
  }

  private static void draw(
      BufferedImage img, float[] v, int c, int h, int w, int scale, int x0, int y0) {
    int plane = h * w;
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int r;
        int gr;
        int b;
        if (c >= 3) {
          r = level(v[y * w + x]);
          gr = level(v[plane + y * w + x]);
          b = level(v[2 * plane + y * w + x]);
        } else {
          r = gr = b = level(v[y * w + x]);
        }
        int rgb = (r << 16) | (gr << 8) | b;
        for (int dy = 0; dy < scale; dy++) {
          for (int dx = 0; dx < scale; dx++) {
            img.setRGB(x0 + x * scale + dx, y0 + y * scale + dy, rgb);
          }
        }
      }
    }
  }

  private static int level(float v) {
    float f = Float.isNaN(v) ? 0 : Math.max(0, Math.min(1, v));
    return Math.round(255 * f);
  }
}
