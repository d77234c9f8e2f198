package dev.arat.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Opens datasets by name:
 *
 * <ul>
 *   <li>{@code fashion-mnist} and {@code mnist}: IDX files, gzip or raw, {@code (N,1,28,28)};
 *   <li>{@code cifar10} and {@code cifar100} (also spelt {@code cifar-10}, {@code cifar-100}): the
 *       official binary version, {@code (N,3,32,32)}, from the tarball or the extracted folder, see
 *       {@link Cifar} (default locations {@code ~/.cache/arat/cifar-10}, then {@code
 *       /usr/share/datasets/cifar-10});
 *   <li>{@code folder} (the folder is {@code dir}) or {@code folder:<path>}: an image folder with
 *       {@link ImageFolder.Options#defaults()} (32x32 centre crops, RGB, 20% of each class held out
 *       unless the folder has {@code train/} and {@code val/} or {@code test/}); use {@link
 *       ImageFolder#load} for other sizes;
 *   <li>{@code synthetic}: seeded, for tests.
 * </ul>
 *
 * <p>Nothing is downloaded here: missing files are a {@link DatasetException} that says where the
 * files are looked for and how to get them ({@link Downloads#cifar} fetches CIFAR on a machine with
 * internet access).
 */
public final class Datasets {
  private Datasets() {}

  /** Dataset names accepted by {@link #load}. */
  public static final List<String> NAMES =
      List.of("fashion-mnist", "mnist", "cifar10", "cifar100", "folder", "synthetic");

  /** Where Debian's {@code dataset-fashion-mnist} package puts the files. */
  public static final Path FASHION_MNIST_DEFAULT = Path.of("/usr/share/datasets/fashion-mnist");

  /** Where MNIST is looked for when no folder is given. */
  public static final Path MNIST_DEFAULT = Path.of("/usr/share/datasets/mnist");

  private static final List<String> FASHION_CLASSES =
      List.of(
          "T-shirt/top",
          "Trouser",
          "Pullover",
          "Dress",
          "Coat",
          "Sandal",
          "Shirt",
          "Sneaker",
          "Bag",
          "Ankle boot");

  /**
   * Loads a split of a named dataset.
   *
   * @param name one of {@link #NAMES}, an alias ({@code cifar-10}, {@code cifar-100}) or {@code
   *     folder:<path>}
   * @param dir folder holding the files (for CIFAR also the tarball itself), or null for the
   *     default location; for {@code folder:<path>} a relative path resolves against it
   * @param split train or test
   * @return float32 NCHW images in {@code [0,1]} with their labels
   * @throws DatasetException if the name is unknown or the files are missing or malformed
   */
  public static ImageDataset load(String name, Path dir, Split split) {
    return load(name, dir, split, ImageFolder.Options.defaults());
  }

  /**
   * Loads a split of a named dataset, reading image folders with {@code folderOptions} (size,
   * resize mode, channels, split fraction and seed); other datasets ignore them.
   *
   * @param name as for {@link #load(String, Path, Split)}
   * @param dir as for {@link #load(String, Path, Split)}
   * @param split train or test
   * @param folderOptions how {@code folder} and {@code folder:<path>} datasets are read
   * @return float32 NCHW images in {@code [0,1]} with their labels
   * @throws DatasetException if the name is unknown or the files are missing or malformed
   */
  public static ImageDataset load(
      String name, Path dir, Split split, ImageFolder.Options folderOptions) {
    if (name.regionMatches(true, 0, "folder:", 0, 7)) {
      Path p = Path.of(name.substring(7));
      return ImageFolder.load(
          dir != null && !p.isAbsolute() ? dir.resolve(p) : p, folderOptions, split);
    }
    Cifar.Variant cifar = Cifar.Variant.of(name);
    if (cifar != null) {
      return Cifar.load(cifar, dir, split);
    }
    String n = name.toLowerCase(Locale.ROOT);
    switch (n) {
      case "folder":
        if (dir == null) {
          throw new DatasetException(
              "dataset 'folder' needs the image folder: pass --data DIR or "
                  + "name it as folder:<path>");
        }
        return ImageFolder.load(dir, folderOptions, split);
      case "fashion-mnist":
        return idx(
            n,
            dir != null ? dir : FASHION_MNIST_DEFAULT,
            split,
            FASHION_CLASSES,
            "install Debian's package (apt-get install dataset-fashion-mnist) or pass --data DIR");
      case "mnist":
        return idx(
            n,
            dir != null ? dir : MNIST_DEFAULT,
            split,
            List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
            "pass --data DIR with the MNIST IDX files");
      case "synthetic":
        return split == Split.TRAIN
            ? SyntheticDataset.generate(1, 2048, 1, 28, 28, 10)
            : SyntheticDataset.generate(2, 512, 1, 28, 28, 10);
      default:
        throw new DatasetException(
            "unknown dataset '" + name + "', expected one of " + NAMES + " or folder:<path>");
    }
  }

  /**
   * The files {@link #load} reads for the test split of {@code name} (for its digest): the IDX
   * image and label files, the CIFAR tarball or test batch, every image of a {@code folder} dataset
   * (the split is drawn from all of them); empty for {@code synthetic}.
   *
   * @param name as for {@link #load(String, Path, Split)}
   * @param dir as for {@link #load(String, Path, Split)}
   * @throws DatasetException if the files are missing
   */
  public static List<Path> testFiles(String name, Path dir) {
    if (name.regionMatches(true, 0, "folder:", 0, 7) || name.equalsIgnoreCase("folder")) {
      Path p = name.length() > 7 ? Path.of(name.substring(7)) : dir;
      Path root = dir != null && !p.isAbsolute() && name.length() > 7 ? dir.resolve(p) : p;
      try (java.util.stream.Stream<Path> s = Files.walk(root)) {
        return s.filter(Files::isRegularFile)
            .filter(
                f -> {
                  String l = f.getFileName().toString().toLowerCase(Locale.ROOT);
                  return !f.getFileName().toString().startsWith(".")
                      && (l.endsWith(".png") || l.endsWith(".jpg") || l.endsWith(".jpeg"));
                })
            .sorted()
            .toList();
      } catch (java.io.IOException e) {
        throw new DatasetException(root + ": cannot list: " + e.getMessage(), e);
      }
    }
    Cifar.Variant cifar = Cifar.Variant.of(name);
    if (cifar != null) {
      return Cifar.files(cifar, dir, Split.TEST);
    }
    String n = name.toLowerCase(Locale.ROOT);
    if (n.equals("fashion-mnist") || n.equals("mnist")) {
      Path d = dir != null ? dir : n.equals("mnist") ? MNIST_DEFAULT : FASHION_MNIST_DEFAULT;
      Path images = find(d, "t10k-images-idx3-ubyte");
      Path labels = find(d, "t10k-labels-idx1-ubyte");
      if (images == null || labels == null) {
        throw new DatasetException(name + " not found in " + d);
      }
      return List.of(images, labels);
    }
    return List.of();
  }

  private static ImageDataset idx(
      String name, Path dir, Split split, List<String> classes, String howTo) {
    String prefix = split == Split.TRAIN ? "train" : "t10k";
    Path images = find(dir, prefix + "-images-idx3-ubyte");
    Path labels = find(dir, prefix + "-labels-idx1-ubyte");
    if (images == null || labels == null) {
      throw new DatasetException(
          name
              + " not found: expected "
              + prefix
              + "-images-idx3-ubyte(.gz) and "
              + prefix
              + "-labels-idx1-ubyte(.gz) in "
              + dir
              + "; "
              + howTo);
    }
    IdxReader.Images im = IdxReader.readImages(images);
    int[] y = IdxReader.readLabels(labels);
    if (y.length != im.count()) {
      throw new DatasetException(
          name
              + ": "
              + images.getFileName()
              + " has "
              + im.count()
              + " images but "
              + labels.getFileName()
              + " has "
              + y.length
              + " labels");
    }
    for (int v : y) {
      if (v >= classes.size()) {
        throw new DatasetException(
            name + ": label " + v + " in " + labels + " is not a class index");
      }
    }
    return new ImageDataset(
        name + "/" + split.name().toLowerCase(Locale.ROOT),
        1,
        im.rows(),
        im.cols(),
        classes.size(),
        classes,
        im.pixels(),
        y);
  }

  private static Path find(Path dir, String base) {
    for (String candidate : new String[] {base + ".gz", base, base.replace("-idx", ".idx")}) {
      Path p = dir.resolve(candidate);
      if (Files.isRegularFile(p)) {
        return p;
      }
    }
    return null;
  }
}
