package dev.arat.data;

import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Npy;
import dev.arat.specs.Npz;
import dev.arat.specs.Sha256;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Opens the test set of an evaluation suite's {@code data:} section, whatever its source: a named
 * dataset ({@link Datasets}), {@code .npy} pairs, {@code .npz} archives, image folders of any size
 * and channel count, or IDX files; and names the source with a SHA-256 digest of the files read.
 *
 * <p><b>Arrays</b> ({@code npy}, {@code npz}). Images {@code x}: uint8 (0-255, divided by 255),
 * float32 or float64 (values must lie in {@code [0,1]}: normalisation belongs inside the model),
 * shaped {@code (N,C,H,W)}, {@code (N,H,W,C)} or {@code (N,H,W)} (grey). For 4-D arrays the layout
 * is {@code data.layout}, else inferred: NCHW when axis 1 has 1 or 3 entries and axis 3 has not,
 * NHWC in the opposite case, an error when both or neither do. Labels {@code y}: int64, int32 or
 * uint8, shape {@code (N)} (or {@code (N,1)}), values {@code >= 0}. NaN or infinite pixels, pixels
 * outside {@code [0,1]}, a label count that differs from the image count, and negative labels are
 * {@link DatasetException}s naming the file. The class count of arrays and IDX files is not stored
 * with them: it is {@code max(y) + 1} here, and the evaluator widens it to the model's ({@link
 * TestSet#classCountFromLabels}).
 *
 * <p><b>Digest.</b> {@link Source#sha256()}: for a source read from one file (an {@code .npz}, a
 * CIFAR tarball or batch file), that file's SHA-256; for several files, the SHA-256 of the text
 * with one line {@code <sha256 hex> <name>\n} per file sorted by name (the output of {@code
 * sha256sum} on those files), where a name is the path relative to the image folder (with {@code
 * /}) or, for file pairs, the file name. {@code null} for the generated {@code synthetic} set.
 */
public final class TestSets {
  private TestSets() {}

  /**
   * Where a test set came from, as recorded in reports.
   *
   * @param kind {@code npy}, {@code npz}, {@code folder}, {@code idx}, {@code named} or {@code
   *     synthetic}
   * @param path the file or folder as the user gave it (for pairs the images file), or null for a
   *     named dataset at its default location
   * @param labelsPath the labels file of an {@code npy} or {@code idx} pair as given, else null
   * @param layout how the images were stored, e.g. {@code NHWC uint8 (N,28,28,1)} or {@code class
   *     folders, grey, 28x28 as stored}
   * @param files number of files read
   * @param sha256 the digest (see the class comment), or null for generated data
   */
  public record Source(
      String kind, String path, String labelsPath, String layout, int files, String sha256) {}

  /**
   * A loaded test set.
   *
   * @param data the images (float32 NCHW in {@code [0,1]}) and labels
   * @param source where they came from
   * @param classCountFromLabels true when the source does not state the class count ({@code
   *     data.numClasses()} is then {@code max(label) + 1}) and a model's may be used
   */
  public record TestSet(ImageDataset data, Source source, boolean classCountFromLabels) {
    /**
     * The same set with {@code k} classes (at least the labels' count), named {@code 0..k-1} if
     * unnamed.
     */
    public TestSet withClassCount(int k) {
      if (k == data.numClasses()) {
        return this;
      }
      List<String> names = new ArrayList<>();
      for (int i = 0; i < k; i++) {
        names.add(i < data.classNames().size() ? data.classNames().get(i) : Integer.toString(i));
      }
      return new TestSet(
          new ImageDataset(
              data.name(),
              data.channels(),
              data.height(),
              data.width(),
              k,
              names,
              data.pixels(),
              data.labels()),
          source,
          classCountFromLabels);
    }
  }

  /**
   * Loads the test split described by {@code d}.
   *
   * @param d the suite's data section; a named dataset must be resolved (non-null {@code dataset})
   *     unless {@code format} is set
   * @param dirOverride for a named dataset, a folder (or file) overriding {@code d.path()}; null to
   *     use it
   * @return the test set and its source
   * @throws DatasetException if files are missing, malformed or hold values arat cannot use
   */
  public static TestSet load(EvaluationSuite.Data d, Path dirOverride) {
    if (d.format() == null) {
      if (d.dataset() == null) {
        throw new DatasetException("the suite names no test set: set data.dataset or data.format");
      }
      Path dir = dirOverride != null ? dirOverride : d.path() != null ? Path.of(d.path()) : null;
      ImageDataset data = Datasets.load(d.dataset(), dir, Split.TEST);
      List<Path> files = Datasets.testFiles(d.dataset(), dir);
      String kind = d.dataset().equalsIgnoreCase("synthetic") ? "synthetic" : "named";
      String layout = d.dataset() + ", " + shape(data);
      return new TestSet(
          data,
          new Source(
              kind,
              dir == null ? null : dir.toString(),
              null,
              layout,
              files.size(),
              files.isEmpty() ? null : digest(files, null)),
          false);
    }
    return switch (d.format()) {
      case "npy" -> {
        Path x = Path.of(d.x());
        Path y = Path.of(d.y());
        Arrays2 a =
            fromArrays(
                Npy.read(x),
                Npy.read(y),
                d.layout(),
                "x file '" + x + "'",
                "y file '" + y + "'",
                x.getFileName().toString());
        yield new TestSet(
            a.data(),
            new Source("npy", d.x(), d.y(), a.layout(), 2, digest(List.of(x, y), null)),
            true);
      }
      case "npz" -> {
        Path file = Path.of(d.path());
        Map<String, Npy.NpyArray> arrays = Npz.read(file);
        String xn = d.x() != null ? d.x() : "x";
        String yn = d.y() != null ? d.y() : "y";
        for (String n : List.of(xn, yn)) {
          if (!arrays.containsKey(n)) {
            throw new DatasetException(
                "npz file '"
                    + file
                    + "' has no array '"
                    + n
                    + "' (it holds "
                    + arrays.keySet()
                    + "); name the images and labels arrays with data.x and data.y");
          }
        }
        Arrays2 a =
            fromArrays(
                arrays.get(xn),
                arrays.get(yn),
                d.layout(),
                "array '" + xn + "' of '" + file + "'",
                "array '" + yn + "' of '" + file + "'",
                file.getFileName().toString());
        yield new TestSet(
            a.data(),
            new Source("npz", d.path(), null, xn + ", " + yn + ": " + a.layout(), 1, sha256(file)),
            true);
      }
      case "folder" -> {
        Path root = Path.of(d.path());
        ImageFolder.Resize resize =
            "resize".equals(d.resize())
                ? ImageFolder.Resize.RESIZE
                : ImageFolder.Resize.CENTER_CROP;
        ImageFolder.TestFolder f =
            ImageFolder.loadTestSet(root, d.imageSize(), d.channels(), resize);
        ImageDataset data = f.data();
        String layout =
            String.format(
                Locale.ROOT,
                "class folders%s, %s, %dx%d %s",
                f.base().equals(root) ? "" : " in " + root.relativize(f.base()),
                data.channels() == 1 ? "grey" : "RGB",
                data.height(),
                data.width(),
                d.imageSize() == null
                    ? "as stored"
                    : "(" + (d.resize() == null ? "center_crop" : d.resize()) + ")");
        yield new TestSet(
            data,
            new Source("folder", d.path(), null, layout, f.files().size(), digest(f.files(), root)),
            false);
      }
      case "idx" -> {
        Path x = Path.of(d.x());
        Path y = Path.of(d.y());
        IdxReader.Images im = IdxReader.readImages(x);
        int[] labels = IdxReader.readLabels(y);
        if (labels.length != im.count()) {
          throw new DatasetException(
              "x file '"
                  + x
                  + "' has "
                  + im.count()
                  + " images but y file '"
                  + y
                  + "' has "
                  + labels.length
                  + " labels");
        }
        int k = classCount(labels);
        ImageDataset data =
            new ImageDataset(
                "idx:" + x.getFileName(),
                1,
                im.rows(),
                im.cols(),
                k,
                names(k),
                im.pixels(),
                labels);
        yield new TestSet(
            data,
            new Source(
                "idx", d.x(), d.y(), "IDX uint8 " + shape(data), 2, digest(List.of(x, y), null)),
            true);
      }
      default -> throw new DatasetException("format: unknown '" + d.format() + "'");
    };
  }

  /**
   * Images and labels from two arrays, checked (see the class comment).
   *
   * @param x the images array
   * @param y the labels array
   * @param layout {@code nchw}, {@code nhwc} or null (inferred)
   * @param xName how to name {@code x} in messages
   * @param yName how to name {@code y} in messages
   * @param name the dataset name for reports
   * @return float32 NCHW images in {@code [0,1]} with {@code max(y) + 1} classes, and how {@code x}
   *     was stored
   */
  static Arrays2 fromArrays(
      Npy.NpyArray x, Npy.NpyArray y, String layout, String xName, String yName, String name) {
    long[] s = x.shape();
    if (x.integral() && x.dtype() != Npy.DType.UINT8) {
      throw new DatasetException(
          xName
              + " holds "
              + x.dtype().name().toLowerCase(Locale.ROOT)
              + " values; images"
              + " must be uint8 (0-255) or float32/float64 in [0,1]");
    }
    if (s.length != 3 && s.length != 4) {
      throw new DatasetException(
          xName
              + " has shape "
              + Arrays.toString(s)
              + "; images must be (N,C,H,W), "
              + "(N,H,W,C) or (N,H,W)");
    }
    boolean nhwc;
    if (s.length == 3) {
      if (layout != null) {
        throw new DatasetException(xName + " is 3-D (N,H,W): data.layout does not apply");
      }
      nhwc = false;
    } else if (layout != null) {
      nhwc = layout.equals("nhwc");
    } else {
      boolean first = s[1] == 1 || s[1] == 3;
      boolean last = s[3] == 1 || s[3] == 3;
      if (first == last) {
        throw new DatasetException(
            xName
                + " has shape "
                + Arrays.toString(s)
                + ": cannot tell whether it is"
                + " (N,C,H,W) or (N,H,W,C); set data.layout to nchw or nhwc");
      }
      nhwc = last;
    }
    int n = Math.toIntExact(s[0]);
    int c = s.length == 3 ? 1 : (int) (nhwc ? s[3] : s[1]);
    int h = (int) (s.length == 3 ? s[1] : nhwc ? s[1] : s[2]);
    int w = (int) (s.length == 3 ? s[2] : nhwc ? s[2] : s[3]);
    if (n == 0 || c <= 0 || h <= 0 || w <= 0) {
      throw new DatasetException(xName + " has shape " + Arrays.toString(s) + ": no images");
    }
    int per = c * h * w;
    float[] px = new float[Math.multiplyExact(n, per)];
    float[] f = x.floats();
    byte[] b = x.bytes();
    for (int i = 0; i < n; i++) {
      for (int ch = 0; ch < c; ch++) {
        for (int r = 0; r < h; r++) {
          for (int col = 0; col < w; col++) {
            int src = nhwc ? ((i * h + r) * w + col) * c + ch : ((i * c + ch) * h + r) * w + col;
            int dst = ((i * c + ch) * h + r) * w + col;
            float v = b != null ? (b[src] & 0xff) / 255f : f[src];
            if (!(v >= 0 && v <= 1)) {
              throw new DatasetException(
                  String.format(
                      Locale.ROOT,
                      "%s: image %d holds %s; pixels must be in [0,1]"
                          + " (arat expects unnormalised images: normalisation belongs inside the model; divide 0-255"
                          + " data by 255 or store it as uint8)",
                      xName,
                      i,
                      Float.isNaN(v) ? "NaN" : Float.toString(v)));
            }
            px[dst] = v;
          }
        }
      }
    }
    long[] ys = y.shape();
    boolean column = ys.length == 2 && ys[1] == 1;
    if (!y.integral() || !(ys.length == 1 || column)) {
      throw new DatasetException(
          yName
              + " must be an int64, int32 or uint8 array of shape (N), is "
              + y.dtype().name().toLowerCase(Locale.ROOT)
              + " "
              + Arrays.toString(ys));
    }
    if (ys[0] != n) {
      throw new DatasetException(
          yName + " has " + ys[0] + " labels but " + xName + " has " + n + " images");
    }
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      long v = y.longAt(i);
      if (v < 0 || v > 1_000_000) {
        throw new DatasetException(yName + ": label " + i + " is " + v + ", not a class index");
      }
      labels[i] = (int) v;
    }
    int k = classCount(labels);
    String stored =
        (s.length == 3 ? "NHW" : nhwc ? "NHWC" : "NCHW")
            + " "
            + x.dtype().name().toLowerCase(Locale.ROOT)
            + " "
            + Arrays.toString(s).replace('[', '(').replace(']', ')').replace(" ", "");
    return new Arrays2(new ImageDataset(name, c, h, w, k, names(k), px, labels), stored);
  }

  /** Images read from arrays and how they were stored, e.g. {@code NHWC uint8 (100,28,28,1)}. */
  record Arrays2(ImageDataset data, String layout) {}

  /** {@link Sha256#ofFile}, with a read error as a {@link DatasetException} naming the file. */
  private static String sha256(Path file) {
    try {
      return Sha256.ofFile(file);
    } catch (IOException e) {
      throw new DatasetException(file + ": cannot read: " + e.getMessage(), e);
    }
  }

  /**
   * The digest of a set of files (see the class comment): one file's own SHA-256, else the SHA-256
   * of their {@code sha256sum} listing sorted by name.
   *
   * @param files the files read
   * @param root names are paths relative to it (with {@code /}); null means file names
   */
  public static String digest(List<Path> files, Path root) {
    if (files.size() == 1) {
      return sha256(files.get(0));
    }
    List<String[]> lines = new ArrayList<>();
    for (Path p : files) {
      String name =
          root == null
              ? p.getFileName().toString()
              : root.relativize(p).toString().replace('\\', '/');
      lines.add(new String[] {name, sha256(p)});
    }
    lines.sort(
        (a, b) ->
            Arrays.compare(
                a[0].getBytes(StandardCharsets.UTF_8), b[0].getBytes(StandardCharsets.UTF_8)));
    StringBuilder text = new StringBuilder();
    for (String[] l : lines) {
      text.append(l[1]).append("  ").append(l[0]).append('\n');
    }
    return Sha256.ofBytes(text.toString().getBytes(StandardCharsets.UTF_8));
  }

  private static int classCount(int[] labels) {
    int k = 0;
    for (int v : labels) {
      k = Math.max(k, v + 1);
    }
    return Math.max(k, 1);
  }

  private static List<String> names(int k) {
    List<String> out = new ArrayList<>(k);
    for (int i = 0; i < k; i++) {
      out.add(Integer.toString(i));
    }
    return out;
  }

  private static String shape(ImageDataset d) {
    return String.format(
        Locale.ROOT, "(%d,%d,%d,%d)", d.size(), d.channels(), d.height(), d.width());
  }
}
