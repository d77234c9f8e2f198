package dev.arat.data;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Reads CIFAR-10 and CIFAR-100 in their official binary format.
 *
 * <p>Files: CIFAR-10 {@code cifar-10-batches-bin/data_batch_{1..5}.bin} (train), {@code
 * test_batch.bin} (test) and {@code batches.meta.txt} (class names), each record one label byte and
 * 3072 pixel bytes; CIFAR-100 {@code cifar-100-binary/train.bin}, {@code test.bin} and {@code
 * fine_label_names.txt}, each record a coarse and a fine label byte and 3072 pixel bytes (the fine
 * label, 0..99, is used). Pixels are stored channel-major (1024 red, 1024 green, 1024 blue, rows of
 * 32), so a record is already CHW: the result is float32 NCHW {@code (N,3,32,32)}, {@code byte/255}
 * in {@code [0,1]}.
 *
 * <p>Where the files are looked for, for a given location {@code L}:
 *
 * <ol>
 *   <li>{@code L} is a file: the official tarball ({@code cifar-10-binary.tar.gz} or {@code
 *       cifar-100-binary.tar.gz}), read directly (gzip + tar) without extracting;
 *   <li>{@code L} holds the split's {@code .bin} files: the extracted folder itself;
 *   <li>{@code L/cifar-10-batches-bin} (or {@code L/cifar-100-binary}) is a folder: the folder
 *       containing the extracted one;
 *   <li>{@code L/cifar-10-binary.tar.gz} (or {@code L/cifar-100-binary.tar.gz}) exists: the folder
 *       containing the tarball (where {@link Downloads#cifar} puts it).
 * </ol>
 *
 * <p>Without a location, {@code ~/.cache/arat/cifar-10} then {@code /usr/share/datasets/cifar-10}
 * are tried ({@code cifar-100} for CIFAR-100). Nothing is downloaded here; see {@link Downloads}.
 *
 * <p>Checks: every {@code .bin} must be a non-empty whole number of records (otherwise it is
 * truncated and the error names it), the five CIFAR-10 training batches must have equal sizes, and
 * every label must be a class index. Files of the official sizes hold 10,000 records per CIFAR-10
 * batch and 50,000/10,000 for CIFAR-100; smaller files with whole records are accepted (tests).
 */
public final class Cifar {
  private Cifar() {}

  /** Bytes of pixels per record: 3 x 32 x 32. */
  public static final int PIXELS = 3 * 32 * 32;

  /** The two datasets. */
  public enum Variant {
    /** CIFAR-10: 10 classes, 50,000 train and 10,000 test images. */
    CIFAR10(
        "cifar10",
        "cifar-10",
        "cifar-10-batches-bin",
        "cifar-10-binary.tar.gz",
        1,
        10,
        "batches.meta.txt"),
    /** CIFAR-100 with its 100 fine labels: 50,000 train and 10,000 test images. */
    CIFAR100(
        "cifar100",
        "cifar-100",
        "cifar-100-binary",
        "cifar-100-binary.tar.gz",
        2,
        100,
        "fine_label_names.txt");

    private final String id;
    private final String cacheName;
    private final String folder;
    private final String tarball;
    private final int labelBytes;
    private final int classes;
    private final String meta;

    Variant(
        String id,
        String cacheName,
        String folder,
        String tarball,
        int labelBytes,
        int classes,
        String meta) {
      this.id = id;
      this.cacheName = cacheName;
      this.folder = folder;
      this.tarball = tarball;
      this.labelBytes = labelBytes;
      this.classes = classes;
      this.meta = meta;
    }

    /** The dataset name for {@link Datasets#load}: {@code cifar10} or {@code cifar100}. */
    public String id() {
      return id;
    }

    /**
     * The folder name inside the tarball: {@code cifar-10-batches-bin} or {@code cifar-100-binary}.
     */
    public String folder() {
      return folder;
    }

    /** The official tarball's file name. */
    public String tarball() {
      return tarball;
    }

    /** Number of classes (10 or 100). */
    public int classes() {
      return classes;
    }

    /** Bytes per record: label byte(s) plus {@link #PIXELS}. */
    public int recordBytes() {
      return labelBytes + PIXELS;
    }

    /** The class-names file: {@code batches.meta.txt} or {@code fine_label_names.txt}. */
    public String metaFile() {
      return meta;
    }

    /** The {@code .bin} files of a split, in order. */
    public List<String> files(Split split) {
      if (this == CIFAR10) {
        return split == Split.TRAIN
            ? List.of(
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin")
            : List.of("test_batch.bin");
      }
      return List.of(split == Split.TRAIN ? "train.bin" : "test.bin");
    }

    /**
     * The default locations, in search order: {@code ~/.cache/arat/cifar-10} and {@code
     * /usr/share/datasets/cifar-10} (or {@code cifar-100}).
     */
    public List<Path> defaultLocations() {
      return List.of(
          Path.of(System.getProperty("user.home"), ".cache", "arat", cacheName),
          Path.of("/usr/share/datasets", cacheName));
    }

    /** The variant of a dataset name ({@code cifar10}, {@code cifar-10}, ...), or null. */
    public static Variant of(String name) {
      String n = name.toLowerCase(Locale.ROOT).replace("-", "").replace("_", "");
      return switch (n) {
        case "cifar10" -> CIFAR10;
        case "cifar100" -> CIFAR100;
        default -> null;
      };
    }
  }

  /** CIFAR-10's class names, used when {@code batches.meta.txt} is absent. */
  public static final List<String> CIFAR10_CLASSES =
      List.of(
          "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck");

  /**
   * CIFAR-100's fine class names in label order, used when {@code fine_label_names.txt} is absent.
   */
  public static final List<String> CIFAR100_CLASSES =
      List.of(
          "apple",
          "aquarium_fish",
          "baby",
          "bear",
          "beaver",
          "bed",
          "bee",
          "beetle",
          "bicycle",
          "bottle",
          "bowl",
          "boy",
          "bridge",
          "bus",
          "butterfly",
          "camel",
          "can",
          "castle",
          "caterpillar",
          "cattle",
          "chair",
          "chimpanzee",
          "clock",
          "cloud",
          "cockroach",
          "couch",
          "crab",
          "crocodile",
          "cup",
          "dinosaur",
          "dolphin",
          "elephant",
          "flatfish",
          "forest",
          "fox",
          "girl",
          "hamster",
          "house",
          "kangaroo",
          "keyboard",
          "lamp",
          "lawn_mower",
          "leopard",
          "lion",
          "lizard",
          "lobster",
          "man",
          "maple_tree",
          "motorcycle",
          "mountain",
          "mouse",
          "mushroom",
          "oak_tree",
          "orange",
          "orchid",
          "otter",
          "palm_tree",
          "pear",
          "pickup_truck",
          "pine_tree",
          "plain",
          "plate",
          "poppy",
          "porcupine",
          "possum",
          "rabbit",
          "raccoon",
          "ray",
          "road",
          "rocket",
          "rose",
          "sea",
          "seal",
          "shark",
          "shrew",
          "skunk",
          "skyscraper",
          "snail",
          "snake",
          "spider",
          "squirrel",
          "streetcar",
          "sunflower",
          "sweet_pepper",
          "table",
          "tank",
          "telephone",
          "television",
          "tiger",
          "tractor",
          "train",
          "trout",
          "tulip",
          "turtle",
          "wardrobe",
          "whale",
          "willow_tree",
          "wolf",
          "woman",
          "worm");

  /**
   * Loads one split.
   *
   * @param variant CIFAR-10 or CIFAR-100
   * @param location the tarball, the extracted folder, a folder containing either, or null for the
   *     default locations
   * @param split train or test
   * @return {@code (N,3,32,32)} images in {@code [0,1]} and labels in {@code [0,classes)}
   * @throws DatasetException if the files are missing (the message names the files expected and
   *     where), truncated (naming the file) or malformed
   */
  public static ImageDataset load(Variant variant, Path location, Split split) {
    List<Path> candidates = location != null ? List.of(location) : variant.defaultLocations();
    for (Path c : candidates) {
      Source src = resolve(variant, c, split);
      if (src != null) {
        return src.tarball != null
            ? fromTarball(variant, src.tarball, split)
            : fromFolder(variant, src.folder, split);
      }
    }
    StringBuilder where = new StringBuilder();
    for (Path c : candidates) {
      where.append(where.length() == 0 ? "" : " or ").append(c);
    }
    throw new DatasetException(
        variant.id()
            + " not found: expected "
            + String.join(", ", variant.files(split))
            + " (in "
            + variant.folder()
            + "/) or the official tarball "
            + variant.tarball()
            + " in "
            + where
            + "; download "
            + Downloads.cifarUrl(variant)
            + " (md5 "
            + Downloads.cifarMd5(variant)
            + ") and pass its path or folder with --data, or put it in "
            + variant.defaultLocations().get(0));
  }

  /**
   * The files {@link #load} reads for {@code split}: the tarball, or the split's {@code .bin}
   * files.
   *
   * @throws DatasetException if none of the locations holds the dataset
   */
  public static List<Path> files(Variant variant, Path location, Split split) {
    List<Path> candidates = location != null ? List.of(location) : variant.defaultLocations();
    for (Path c : candidates) {
      Source src = resolve(variant, c, split);
      if (src != null) {
        return src.tarball != null
            ? List.of(src.tarball)
            : variant.files(split).stream().map(src.folder::resolve).toList();
      }
    }
    throw new DatasetException(variant.id() + " not found in " + candidates);
  }

  private record Source(Path folder, Path tarball) {}

  /** Where the split's files are under {@code loc}, or null when {@code loc} holds none of them. */
  private static Source resolve(Variant v, Path loc, Split split) {
    if (Files.isRegularFile(loc)) {
      return new Source(null, loc);
    }
    if (!Files.isDirectory(loc)) {
      return null;
    }
    if (holdsAny(v, loc)) {
      return new Source(loc, null);
    }
    Path inner = loc.resolve(v.folder());
    if (Files.isDirectory(inner)) {
      return new Source(inner, null);
    }
    Path tar = loc.resolve(v.tarball());
    if (Files.isRegularFile(tar)) {
      return new Source(null, tar);
    }
    return null;
  }

  private static boolean holdsAny(Variant v, Path dir) {
    for (Split s : Split.values()) {
      for (String f : v.files(s)) {
        if (Files.exists(dir.resolve(f))) {
          return true;
        }
      }
    }
    return false;
  }

  private static ImageDataset fromFolder(Variant v, Path dir, Split split) {
    List<String> missing = new ArrayList<>();
    for (String f : v.files(split)) {
      if (!Files.isRegularFile(dir.resolve(f))) {
        missing.add(f);
      }
    }
    if (!missing.isEmpty()) {
      throw new DatasetException(
          v.id()
              + ": "
              + dir
              + " lacks "
              + String.join(", ", missing)
              + " (expected "
              + String.join(", ", v.files(split))
              + "); the extracted "
              + v.folder()
              + " folder or the tarball "
              + v.tarball()
              + " is incomplete: extract it again");
    }
    Map<String, byte[]> data = new HashMap<>();
    for (String f : v.files(split)) {
      Path p = dir.resolve(f);
      try {
        data.put(f, Files.readAllBytes(p));
      } catch (IOException e) {
        throw new DatasetException(p + ": cannot read: " + e.getMessage(), e);
      }
    }
    List<String> names = null;
    Path meta = dir.resolve(v.metaFile());
    if (Files.isRegularFile(meta)) {
      try {
        names = classNames(v, Files.readString(meta, StandardCharsets.UTF_8), meta.toString());
      } catch (IOException e) {
        throw new DatasetException(meta + ": cannot read: " + e.getMessage(), e);
      }
    }
    return assemble(v, split, data, names, dir.toString());
  }

  private static ImageDataset fromTarball(Variant v, Path tarball, Split split) {
    try (InputStream raw = Files.newInputStream(tarball)) {
      return fromTarball(v, raw, tarball.toString(), split);
    } catch (IOException e) {
      throw new DatasetException(tarball + ": cannot read: " + e.getMessage(), e);
    }
  }

  /**
   * Reads a split from a tar stream, gzip-compressed or not (told apart by the gzip magic bytes).
   * Entries are matched by their last path component and read into memory; no entry is ever written
   * to disk, so an entry's name cannot reach outside anything.
   *
   * @param raw the archive's bytes; not closed here
   * @param source what error messages name (the archive's path)
   * @throws DatasetException if the archive is corrupt, truncated, or lacks the split's files
   */
  static ImageDataset fromTarball(Variant v, InputStream raw, String source, Split split) {
    Set<String> wanted = new LinkedHashSet<>(v.files(split));
    Map<String, byte[]> data = new HashMap<>();
    List<String> names = null;
    boolean gzip = false;
    try {
      InputStream in = new BufferedInputStream(raw, 1 << 16);
      in.mark(2);
      gzip = in.read() == 0x1f && in.read() == 0x8b;
      in.reset();
      if (gzip) {
        in = new BufferedInputStream(new GZIPInputStream(in, 1 << 16), 1 << 16);
      }
      TarArchiveInputStream tar = new TarArchiveInputStream(in);
      TarArchiveEntry e;
      while ((e = nextTarEntry(tar, source)) != null) {
        if (!e.isFile()) {
          continue; // directories, links, ...
        }
        String base = baseName(e.getName());
        if (wanted.contains(base) && !data.containsKey(base)) {
          data.put(base, readTarEntry(tar, e, source));
        } else if (base.equals(v.metaFile()) && names == null) {
          names =
              classNames(
                  v,
                  new String(readTarEntry(tar, e, source), StandardCharsets.UTF_8),
                  source + "!" + e.getName());
        } else if (tar.transferTo(OutputStream.nullOutputStream()) != e.getSize()) {
          throw truncatedTar(source, null); // the stream ended inside an entry we skip
        }
        if (data.size() == wanted.size() && names != null) {
          break;
        }
      }
    } catch (java.util.zip.ZipException | java.io.EOFException e) {
      if (!gzip) {
        throw truncatedTar(source, e);
      }
      throw new DatasetException(
          source
              + ": truncated or corrupt gzip ("
              + e.getMessage()
              + "); download "
              + v.tarball()
              + " again",
          e);
    } catch (IOException e) {
      if (isTruncation(e)) {
        throw truncatedTar(source, e);
      }
      throw new DatasetException(source + ": cannot read: " + e.getMessage(), e);
    }
    List<String> missing = new ArrayList<>();
    for (String f : wanted) {
      if (!data.containsKey(f)) {
        missing.add(f);
      }
    }
    if (!missing.isEmpty()) {
      throw new DatasetException(
          source
              + ": the archive has no "
              + String.join(", ", missing)
              + "; is it the binary version ("
              + v.tarball()
              + ", not the Python or MATLAB one)?");
    }
    return assemble(v, split, data, names, source);
  }

  /** The next entry; a header that does not parse is a corrupt (or foreign) archive. */
  private static TarArchiveEntry nextTarEntry(TarArchiveInputStream tar, String source)
      throws IOException {
    try {
      TarArchiveEntry e = tar.getNextEntry();
      if (e == null && tar.getBytesRead() % 512 != 0) {
        throw truncatedTar(source, null); // the stream ended inside a header
      }
      if (e != null && !e.isCheckSumOK()) {
        throw new DatasetException(
            source
                + ": not a tar archive or corrupt (header checksum mismatch at "
                + e.getName()
                + ")");
      }
      return e;
    } catch (java.util.zip.ZipException | java.io.EOFException e) {
      throw e; // from the gzip layer
    } catch (IOException | IllegalArgumentException e) {
      if (isTruncation(e)) {
        throw truncatedTar(source, e);
      }
      throw new DatasetException(
          source + ": not a tar archive or corrupt (" + e.getMessage() + ")", e);
    }
  }

  /** All bytes of the current entry, or a clear error if the archive ends inside it. */
  private static byte[] readTarEntry(TarArchiveInputStream tar, TarArchiveEntry e, String source)
      throws IOException {
    if (e.getSize() > Integer.MAX_VALUE - 16) {
      throw new DatasetException(
          source
              + "!"
              + e.getName()
              + ": entry too large to read into memory ("
              + e.getSize()
              + " bytes)");
    }
    byte[] b =
        tar.readAllBytes(); // grows with the bytes actually there, not with the declared size
    if (b.length != e.getSize()) {
      throw truncatedTar(source, null);
    }
    return b;
  }

  private static boolean isTruncation(Exception e) {
    String m = e.getMessage();
    return m != null && m.toLowerCase(Locale.ROOT).contains("truncated");
  }

  private static DatasetException truncatedTar(String source, Exception cause) {
    return new DatasetException(
        source + ": truncated archive (it ends inside an entry); " + "download it again", cause);
  }

  /** The last path component of an archive entry's name ({@code a/b/c.bin} gives {@code c.bin}). */
  private static String baseName(String name) {
    String n = name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
    return n.substring(n.lastIndexOf('/') + 1);
  }

  private static List<String> classNames(Variant v, String text, String source) {
    List<String> out = new ArrayList<>();
    for (String line : text.split("\\R")) {
      String t = line.strip();
      if (!t.isEmpty()) {
        out.add(t);
      }
    }
    if (out.size() != v.classes()) {
      throw new DatasetException(
          source + ": expected " + v.classes() + " class names, found " + out.size());
    }
    return out;
  }

  private static ImageDataset assemble(
      Variant v, Split split, Map<String, byte[]> data, List<String> names, String where) {
    int rec = v.recordBytes();
    long total = 0;
    int firstCount = -1;
    for (String f : v.files(split)) {
      byte[] b = data.get(f);
      if (b.length == 0 || b.length % rec != 0) {
        throw new DatasetException(
            where
                + "/"
                + f
                + ": truncated or not a "
                + v.id()
                + " binary file: "
                + b.length
                + " bytes is not a whole number of "
                + rec
                + "-byte records (the official file holds "
                + (v == Variant.CIFAR100 && split == Split.TRAIN ? 50_000 : 10_000)
                + " records)");
      }
      int count = b.length / rec;
      if (firstCount >= 0 && count != firstCount) {
        throw new DatasetException(
            where
                + "/"
                + f
                + ": holds "
                + count
                + " records but "
                + v.files(split).get(0)
                + " holds "
                + firstCount
                + "; one of them is truncated");
      }
      firstCount = firstCount < 0 ? count : firstCount;
      total += count;
    }
    if (total * PIXELS > Integer.MAX_VALUE) {
      throw new DatasetException(where + ": too many records (" + total + ")");
    }
    int n = (int) total;
    float[] px = new float[n * PIXELS];
    int[] labels = new int[n];
    float[] lut = new float[256];
    for (int i = 0; i < 256; i++) {
      lut[i] = i / 255f;
    }
    int i = 0;
    for (String f : v.files(split)) {
      byte[] b = data.get(f);
      for (int off = 0; off < b.length; off += rec, i++) {
        int y =
            b[off + rec - PIXELS - 1] & 0xff; // CIFAR-10: the only label; CIFAR-100: the fine one
        if (y >= v.classes()) {
          throw new DatasetException(
              where
                  + "/"
                  + f
                  + ": record "
                  + (off / rec)
                  + " has label "
                  + y
                  + ", not a class index of "
                  + v.id());
        }
        if (v == Variant.CIFAR100 && (b[off] & 0xff) >= 20) {
          throw new DatasetException(
              where
                  + "/"
                  + f
                  + ": record "
                  + (off / rec)
                  + " has coarse label "
                  + (b[off] & 0xff)
                  + ", not one of CIFAR-100's 20 superclasses");
        }
        labels[i] = y;
        int base = i * PIXELS;
        int src = off + rec - PIXELS;
        for (int j = 0; j < PIXELS; j++) {
          px[base + j] = lut[b[src + j] & 0xff];
        }
      }
    }
    List<String> classes =
        names != null ? names : v == Variant.CIFAR10 ? CIFAR10_CLASSES : CIFAR100_CLASSES;
    return new ImageDataset(
        v.id() + "/" + split.name().toLowerCase(Locale.ROOT),
        3,
        32,
        32,
        v.classes(),
        classes,
        px,
        labels);
  }
}
