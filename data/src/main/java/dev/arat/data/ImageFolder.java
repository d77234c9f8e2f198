package dev.arat.data;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * An image-folder dataset: one subfolder per class, PNG and JPEG files decoded with {@code
 * javax.imageio} (headless), converted, resized to {@code size x size} and held as float32 NCHW in
 * {@code [0,1]}.
 *
 * <p><b>Layout and split.</b>
 *
 * <ul>
 *   <li>If {@code root/train} is a folder, the training split is {@code root/train/<class>/*} and
 *       the test split {@code root/test/<class>/*}, or {@code root/val/<class>/*} when there is no
 *       {@code test} folder (Imagenette's layout). The classes are the subfolders of {@code train};
 *       a test class folder must be one of them.
 *   <li>Otherwise the subfolders of {@code root} are the classes and each class is split on its own
 *       (stratified): its files, sorted by name, are shuffled with {@link Permutations} seeded by
 *       {@code seed} and the class index, and the first {@code round(n * testFraction)} are the
 *       test split, the rest the training split.
 * </ul>
 *
 * <p>Class indices follow the sorted (by {@link String#compareTo}) class folder names. Files ending
 * in {@code .png}, {@code .jpg} or {@code .jpeg} (any case) are read, in sorted name order; hidden
 * files and other files are ignored. A class folder with no training image, or a file ImageIO
 * cannot decode, is a {@link DatasetException} naming the folder or file.
 *
 * <p><b>Colour.</b> {@code channels = 3} (the default) gives RGB; grey sources are replicated to
 * three channels. {@code channels = 1} gives grey: grey sources as stored, colour sources as the
 * luma {@code 0.299 R + 0.587 G + 0.114 B}. Alpha is dropped (not composited). Samples of 16-bit
 * sources are scaled by 1/65535, 8-bit ones by 1/255.
 *
 * <p><b>Geometry.</b> {@link Resize#RESIZE} scales the whole image to {@code size x size} (the
 * aspect ratio is not kept); {@link Resize#CENTER_CROP} scales the shorter side to {@code size}
 * (the longer one to {@code round(long * size / short)}) and cuts the centred {@code size x size}
 * window (offset {@code floor((len - size) / 2)}). Scaling is bilinear with pixel centres at {@code
 * +0.5}; when shrinking, the triangle filter widens by the shrink factor (antialiased, as PIL's
 * {@code BILINEAR}), so large images do not alias.
 */
public final class ImageFolder {
  private ImageFolder() {}

  static {
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true");
    }
    ImageIO.setUseCache(false);
  }

  /** How an image is brought to {@code size x size}. */
  public enum Resize {
    /** Scale both sides to {@code size} (bilinear); the aspect ratio changes. */
    RESIZE,
    /** Scale the shorter side to {@code size} (bilinear), then cut the centred square. */
    CENTER_CROP
  }

  /**
   * How to read an image folder.
   *
   * @param size output height and width in pixels, at least 1
   * @param resize how images are brought to {@code size x size}
   * @param channels 3 for RGB (default) or 1 for grey
   * @param testFraction fraction of each class held out as the test split when the folder has no
   *     {@code train/} subfolder, in {@code [0,1)}
   * @param seed seed of that split
   */
  public record Options(int size, Resize resize, int channels, double testFraction, long seed) {
    /** Validates. */
    public Options {
      if (size < 1) {
        throw new IllegalArgumentException("size: must be >= 1, was " + size);
      }
      if (resize == null) {
        throw new IllegalArgumentException("resize: must be given");
      }
      if (channels != 1 && channels != 3) {
        throw new IllegalArgumentException("channels: must be 1 or 3, was " + channels);
      }
      if (!(testFraction >= 0 && testFraction < 1)) {
        throw new IllegalArgumentException("test_fraction: must be in [0,1), was " + testFraction);
      }
    }

    /** The defaults: 3 channels, 20% of each class held out, seed 0. */
    public static Options of(int size, Resize resize) {
      return new Options(size, resize, 3, 0.2, 0);
    }

    /**
     * The defaults used by {@code Datasets.load("folder:...")}: 32x32 centre crops, RGB, 20%, seed
     * 0.
     */
    public static Options defaults() {
      return of(32, Resize.CENTER_CROP);
    }
  }

  /** Loads a split with {@link Options#of}{@code (size, resize)}. */
  public static ImageDataset load(Path root, int size, Resize resize, Split split) {
    return load(root, Options.of(size, resize), split);
  }

  /**
   * Loads one split of the image folder at {@code root}.
   *
   * @return {@code (N, channels, size, size)} images in {@code [0,1]}, labels by sorted class
   *     folder
   * @throws DatasetException if the folder is missing or empty, a class has no image, or an image
   *     cannot be decoded (naming the file)
   */
  public static ImageDataset load(Path root, Options o, Split split) {
    if (!Files.isDirectory(root)) {
      throw new DatasetException(
          "image folder "
              + root
              + " does not exist or is not a folder; expected "
              + "one subfolder per class (or train/ and val/ or test/ holding them)");
    }
    Path train = root.resolve("train");
    List<String> classes;
    List<Path> files = new ArrayList<>();
    List<Integer> labels = new ArrayList<>();
    if (Files.isDirectory(train)) {
      classes = classFolders(train);
      if (split == Split.TRAIN) {
        collect(train, classes, classes, files, labels, true);
      } else {
        Path test =
            Files.isDirectory(root.resolve("test")) ? root.resolve("test") : root.resolve("val");
        if (!Files.isDirectory(test)) {
          throw new DatasetException(
              "image folder " + root + " has train/ but neither test/ nor val/");
        }
        List<String> testClasses = classFolders(test);
        for (String c : testClasses) {
          if (!classes.contains(c)) {
            throw new DatasetException(
                test.resolve(c) + ": class '" + c + "' has no folder in " + train);
          }
        }
        collect(test, testClasses, classes, files, labels, false);
      }
    } else {
      classes = classFolders(root);
      for (int k = 0; k < classes.size(); k++) {
        List<Path> all = images(root.resolve(classes.get(k)));
        int nTest = (int) Math.round(all.size() * o.testFraction());
        if (all.size() - nTest == 0) {
          throw new DatasetException(
              root.resolve(classes.get(k)) + ": no PNG/JPEG image left for training");
        }
        int[] perm = Permutations.of(all.size(), o.seed() * 1_000_003L + k);
        int from = split == Split.TEST ? 0 : nTest;
        int to = split == Split.TEST ? nTest : all.size();
        for (int i = from; i < to; i++) {
          files.add(all.get(perm[i]));
          labels.add(k);
        }
      }
    }
    if (classes.size() < 2) {
      throw new DatasetException(
          "image folder " + root + ": need at least 2 class folders, found " + classes);
    }
    int per = o.channels() * o.size() * o.size();
    float[] px = new float[Math.multiplyExact(files.size(), per)];
    int[] y = new int[files.size()];
    for (int i = 0; i < files.size(); i++) {
      float[] img = read(files.get(i), o);
      System.arraycopy(img, 0, px, i * per, per);
      y[i] = labels.get(i);
    }
    return new ImageDataset(
        "folder:" + root.getFileName() + "/" + split.name().toLowerCase(Locale.ROOT),
        o.channels(),
        o.size(),
        o.size(),
        classes.size(),
        classes,
        px,
        y);
  }

  /**
   * A test set read from an image folder by {@link #loadTestSet}.
   *
   * @param data the images, float32 NCHW in {@code [0,1]}, labels by sorted class folder name
   * @param base the folder the class folders are in ({@code root}, {@code root/test} or {@code
   *     root/val})
   * @param files the image files read, in sample order
   */
  public record TestFolder(ImageDataset data, Path base, List<Path> files) {}

  /**
   * Reads a whole image folder as a test set (nothing is held out): {@code root/test/<class>/*}
   * when {@code root/test} exists (classes from {@code root/train} when that exists too, else from
   * {@code test}), else {@code root/val/<class>/*} when {@code root/train} and {@code root/val}
   * exist, else {@code root/<class>/*}.
   *
   * <p>Without {@code size} every image keeps its stored height and width, which must then be the
   * same for all images (otherwise the error names two files of different sizes). Without {@code
   * channels} the set is grey (1 channel) when every image is grey, else RGB (grey images
   * replicated). Colour and resizing rules are those of the class comment.
   *
   * @param root the folder
   * @param size output height and width, or null to keep the stored size
   * @param channels 1 or 3, or null for "as stored"
   * @param resize how to reach {@code size} (ignored without it)
   * @return the images with the folder they came from and the files read
   * @throws DatasetException if the folder has no class folders or images, sizes differ without
   *     {@code size}, or an image cannot be decoded
   */
  public static TestFolder loadTestSet(Path root, Integer size, Integer channels, Resize resize) {
    if (!Files.isDirectory(root)) {
      throw new DatasetException(
          "image folder "
              + root
              + " does not exist or is not a folder; expected "
              + "one subfolder of images per class (or train/ and test/ holding them)");
    }
    Path train = root.resolve("train");
    Path base =
        Files.isDirectory(root.resolve("test"))
            ? root.resolve("test")
            : Files.isDirectory(train) && Files.isDirectory(root.resolve("val"))
                ? root.resolve("val")
                : root;
    if (base == root && Files.isDirectory(train)) {
      throw new DatasetException(
          "image folder "
              + root
              + " has train/ but neither test/ nor val/; "
              + "give the test folder itself");
    }
    List<String> present = classFolders(base);
    List<String> classes = base != root && Files.isDirectory(train) ? classFolders(train) : present;
    for (String c : present) {
      if (!classes.contains(c)) {
        throw new DatasetException(
            base.resolve(c) + ": class '" + c + "' has no folder in " + train);
      }
    }
    if (classes.size() < 2) {
      throw new DatasetException(
          "image folder " + base + ": need at least 2 class folders, found " + classes);
    }
    List<Path> files = new ArrayList<>();
    List<Integer> labels = new ArrayList<>();
    collect(base, present, classes, files, labels, false);
    if (files.isEmpty()) {
      throw new DatasetException(
          "image folder " + base + " holds no PNG/JPEG images in its class folders");
    }
    int c = channels != null ? channels : 0;
    int h = size != null ? size : 0;
    int w = h;
    if (c == 0 || h == 0) { // probe every image's header: colour type and size
      boolean allGrey = true;
      Path first = null;
      for (Path f : files) {
        int[] dims = new int[2];
        boolean grey = probe(f, dims);
        allGrey &= grey;
        if (size == null) {
          if (first == null) {
            first = f;
            h = dims[0];
            w = dims[1];
          } else if (dims[0] != h || dims[1] != w) {
            throw new DatasetException(
                String.format(
                    Locale.ROOT,
                    "images differ in size: %s is %dx%d, %s is "
                        + "%dx%d (HxW); set data.image_size to resize them all",
                    first,
                    h,
                    w,
                    f,
                    dims[0],
                    dims[1]));
          }
        }
      }
      if (c == 0) {
        c = allGrey ? 1 : 3;
      }
    }
    int per = c * h * w;
    float[] px = new float[Math.multiplyExact(files.size(), per)];
    int[] y = new int[files.size()];
    Options o =
        size == null
            ? null
            : new Options(size, resize == null ? Resize.CENTER_CROP : resize, c, 0, 0);
    for (int i = 0; i < files.size(); i++) {
      float[] img = o != null ? read(files.get(i), o) : planes(decode(files.get(i)), c);
      if (img.length != per) { // cannot happen: sizes were checked by the probe
        throw new DatasetException(
            files.get(i) + ": decoded to " + img.length + " values, expected " + per);
      }
      System.arraycopy(img, 0, px, i * per, per);
      y[i] = labels.get(i);
    }
    ImageDataset data =
        new ImageDataset(
            "folder:" + root.getFileName() + "/test", c, h, w, classes.size(), classes, px, y);
    return new TestFolder(data, base, List.copyOf(files));
  }

  /**
   * Reads an image's header: fills {@code hw} with height and width, returns whether it is grey.
   */
  private static boolean probe(Path file, int[] hw) {
    try (javax.imageio.stream.ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
      java.util.Iterator<javax.imageio.ImageReader> readers =
          in == null ? null : ImageIO.getImageReaders(in);
      if (readers == null || !readers.hasNext()) {
        throw new DatasetException(file + ": not a readable PNG or JPEG image");
      }
      javax.imageio.ImageReader r = readers.next();
      try {
        r.setInput(in, true, true);
        hw[0] = r.getHeight(0);
        hw[1] = r.getWidth(0);
        java.util.Iterator<javax.imageio.ImageTypeSpecifier> types = r.getImageTypes(0);
        if (!types.hasNext()) {
          throw new DatasetException(file + ": not a readable PNG or JPEG image");
        }
        java.awt.image.ColorModel cm = types.next().getColorModel();
        return !(cm instanceof IndexColorModel) && cm.getNumColorComponents() == 1;
      } finally {
        r.dispose();
      }
    } catch (IOException | RuntimeException e) {
      if (e instanceof DatasetException d) {
        throw d;
      }
      throw new DatasetException(file + ": cannot decode image (" + e.getMessage() + ")", e);
    }
  }

  private static BufferedImage decode(Path file) {
    BufferedImage img;
    try {
      img = ImageIO.read(file.toFile());
    } catch (IOException | RuntimeException e) {
      throw new DatasetException(file + ": cannot decode image (" + e.getMessage() + ")", e);
    }
    if (img == null) {
      throw new DatasetException(file + ": not a readable PNG or JPEG image");
    }
    return img;
  }

  /**
   * Decodes one image and brings it to {@code (channels, size, size)} per {@code o}.
   *
   * @return float32 CHW in {@code [0,1]}
   * @throws DatasetException naming the file if it cannot be decoded
   */
  public static float[] read(Path file, Options o) {
    BufferedImage img = decode(file);
    int h = img.getHeight();
    int w = img.getWidth();
    float[] planes = planes(img, o.channels());
    if (o.resize() == Resize.RESIZE) {
      return resize(planes, o.channels(), h, w, o.size(), o.size());
    }
    int oh;
    int ow;
    if (h <= w) {
      oh = o.size();
      ow = Math.max(o.size(), (int) Math.round((double) w * o.size() / h));
    } else {
      ow = o.size();
      oh = Math.max(o.size(), (int) Math.round((double) h * o.size() / w));
    }
    float[] scaled = resize(planes, o.channels(), h, w, oh, ow);
    return crop(scaled, o.channels(), oh, ow, (oh - o.size()) / 2, (ow - o.size()) / 2, o.size());
  }

  /**
   * The image as {@code (channels, H, W)} floats in [0,1], per the colour rule of the class doc.
   */
  static float[] planes(BufferedImage img, int channels) {
    int h = img.getHeight();
    int w = img.getWidth();
    float[] out = new float[channels * h * w];
    Raster r = img.getRaster();
    boolean grey =
        !(img.getColorModel() instanceof IndexColorModel)
            && r.getNumBands() <= 2
            && img.getColorModel().getNumColorComponents() == 1;
    if (grey) {
      int bits = img.getColorModel().getComponentSize(0);
      float scale = 1f / ((1 << bits) - 1);
      int[] row = new int[w];
      for (int yy = 0; yy < h; yy++) {
        r.getSamples(0, yy, w, 1, 0, row);
        for (int x = 0; x < w; x++) {
          float v = row[x] * scale;
          for (int c = 0; c < channels; c++) {
            out[(c * h + yy) * w + x] = v;
          }
        }
      }
      return out;
    }
    int[] argb = new int[w];
    for (int yy = 0; yy < h; yy++) {
      img.getRGB(0, yy, w, 1, argb, 0, w);
      for (int x = 0; x < w; x++) {
        float rr = ((argb[x] >> 16) & 0xff) / 255f;
        float gg = ((argb[x] >> 8) & 0xff) / 255f;
        float bb = (argb[x] & 0xff) / 255f;
        if (channels == 3) {
          out[yy * w + x] = rr;
          out[(h + yy) * w + x] = gg;
          out[(2 * h + yy) * w + x] = bb;
        } else {
          out[yy * w + x] = Math.min(1f, 0.299f * rr + 0.587f * gg + 0.114f * bb);
        }
      }
    }
    return out;
  }

  /**
   * Bilinear resampling of {@code (c, h, w)} planes to {@code (c, oh, ow)}, antialiased when
   * shrinking (triangle filter of radius {@code max(1, in/out)} input pixels, weights normalised).
   * Outputs stay within the input's range.
   */
  public static float[] resize(float[] src, int c, int h, int w, int oh, int ow) {
    if (oh == h && ow == w) {
      return src.clone();
    }
    Filter fy = Filter.of(h, oh);
    Filter fx = Filter.of(w, ow);
    float[] tmp = new float[c * h * ow];
    for (int ch = 0; ch < c; ch++) {
      for (int y = 0; y < h; y++) {
        int row = (ch * h + y) * w;
        for (int x = 0; x < ow; x++) {
          double s = 0;
          for (int k = 0; k < fx.len[x]; k++) {
            s += fx.weights[x][k] * src[row + fx.start[x] + k];
          }
          tmp[(ch * h + y) * ow + x] = (float) s;
        }
      }
    }
    float[] out = new float[c * oh * ow];
    for (int ch = 0; ch < c; ch++) {
      for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
          double s = 0;
          for (int k = 0; k < fy.len[y]; k++) {
            s += fy.weights[y][k] * tmp[(ch * h + fy.start[y] + k) * ow + x];
          }
          out[(ch * oh + y) * ow + x] = (float) Math.min(1.0, Math.max(0.0, s));
        }
      }
    }
    return out;
  }

  /** Per-output-pixel source window and normalised triangle weights along one axis. */
  private record Filter(int[] start, int[] len, double[][] weights) {
    static Filter of(int in, int out) {
      double scale = (double) in / out;
      double support = Math.max(1.0, scale);
      int[] start = new int[out];
      int[] len = new int[out];
      double[][] wts = new double[out][];
      for (int i = 0; i < out; i++) {
        double centre = (i + 0.5) * scale;
        int lo = Math.max(0, (int) Math.floor(centre - support));
        int hi = Math.min(in - 1, (int) Math.ceil(centre + support));
        double[] wv = new double[hi - lo + 1];
        double sum = 0;
        for (int j = lo; j <= hi; j++) {
          double t = Math.abs((j + 0.5 - centre) / support);
          double v = t < 1 ? 1 - t : 0;
          wv[j - lo] = v;
          sum += v;
        }
        if (sum <= 0) { // cannot happen for in >= 1, kept as a guard: nearest pixel
          int j = Math.min(in - 1, Math.max(0, (int) centre));
          wv = new double[] {1};
          lo = j;
          sum = 1;
        }
        for (int k = 0; k < wv.length; k++) {
          wv[k] /= sum;
        }
        start[i] = lo;
        len[i] = wv.length;
        wts[i] = wv;
      }
      return new Filter(start, len, wts);
    }
  }

  private static float[] crop(float[] src, int c, int h, int w, int top, int left, int size) {
    float[] out = new float[c * size * size];
    for (int ch = 0; ch < c; ch++) {
      for (int y = 0; y < size; y++) {
        System.arraycopy(src, (ch * h + top + y) * w + left, out, (ch * size + y) * size, size);
      }
    }
    return out;
  }

  private static List<String> classFolders(Path dir) {
    List<String> out = new ArrayList<>();
    try (Stream<Path> s = Files.list(dir)) {
      s.filter(Files::isDirectory)
          .map(p -> p.getFileName().toString())
          .filter(n -> !n.startsWith("."))
          .sorted()
          .forEach(out::add);
    } catch (IOException e) {
      throw new DatasetException(dir + ": cannot list: " + e.getMessage(), e);
    }
    if (out.isEmpty()) {
      throw new DatasetException(
          "image folder "
              + dir
              + " has no class subfolders; expected one "
              + "subfolder of PNG/JPEG images per class");
    }
    return out;
  }

  private static void collect(
      Path dir,
      List<String> present,
      List<String> classes,
      List<Path> files,
      List<Integer> labels,
      boolean requireImages) {
    Map<String, Integer> index = new HashMap<>();
    for (int k = 0; k < classes.size(); k++) {
      index.put(classes.get(k), k);
    }
    for (String c : present) {
      List<Path> imgs = images(dir.resolve(c));
      if (requireImages && imgs.isEmpty()) {
        throw new DatasetException(dir.resolve(c) + ": class folder has no PNG/JPEG images");
      }
      for (Path p : imgs) {
        files.add(p);
        labels.add(index.get(c));
      }
    }
  }

  private static List<Path> images(Path classDir) {
    List<Path> out = new ArrayList<>();
    try (Stream<Path> s = Files.list(classDir)) {
      s.filter(Files::isRegularFile)
          .filter(
              p -> {
                String n = p.getFileName().toString();
                String l = n.toLowerCase(Locale.ROOT);
                return !n.startsWith(".")
                    && (l.endsWith(".png") || l.endsWith(".jpg") || l.endsWith(".jpeg"));
              })
          .sorted((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()))
          .forEach(out::add);
    } catch (IOException e) {
      throw new DatasetException(classDir + ": cannot list: " + e.getMessage(), e);
    }
    return out;
  }
}
