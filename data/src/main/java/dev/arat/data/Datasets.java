package dev.arat.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Opens datasets by name: {@code fashion-mnist} and {@code mnist} (IDX files, gzip or raw) and
 * {@code synthetic} (seeded, for tests). Nothing is downloaded: missing files are a {@link
 * DatasetException} that says where the files are looked for and how to get them.
 */
public final class Datasets {
  private Datasets() {}

  /** Dataset names accepted by {@link #load}. */
  public static final List<String> NAMES = List.of("fashion-mnist", "mnist", "synthetic");

  /** Where Debian's {@code dataset-fashion-mnist} package puts the files. */
  public static final Path FASHION_MNIST_DEFAULT = Path.of("/usr/share/datasets/fashion-mnist");

  /** Where MNIST is looked for when no folder is given. */
  public static final Path MNIST_DEFAULT = Path.of("/usr/share/datasets/mnist");

  private static final List<String> FASHION_CLASSES = List.of(
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

  /**
   * Loads a split of a named dataset.
   *
   * @param name one of {@link #NAMES}
   * @param dir folder holding the files, or null for the default location
   * @param split train or test
   */
  public static ImageDataset load(String name, Path dir, Split split) {
    String n = name.toLowerCase(Locale.ROOT);
    switch (n) {
      case "fashion-mnist":
        return idx(n, dir != null ? dir : FASHION_MNIST_DEFAULT, split, FASHION_CLASSES,
            "install Debian's package (apt-get install dataset-fashion-mnist) or pass --data DIR");
      case "mnist":
        return idx(n, dir != null ? dir : MNIST_DEFAULT, split,
            List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
            "pass --data DIR with the MNIST IDX files");
      case "synthetic":
        return split == Split.TRAIN
            ? SyntheticDataset.generate(1, 2048, 1, 28, 28, 10)
            : SyntheticDataset.generate(2, 512, 1, 28, 28, 10);
      default:
        throw new DatasetException("unknown dataset '" + name + "', expected one of " + NAMES);
    }
  }

  private static ImageDataset idx(String name, Path dir, Split split, List<String> classes, String howTo) {
    String prefix = split == Split.TRAIN ? "train" : "t10k";
    Path images = find(dir, prefix + "-images-idx3-ubyte");
    Path labels = find(dir, prefix + "-labels-idx1-ubyte");
    if (images == null || labels == null) {
      throw new DatasetException(name + " not found: expected " + prefix + "-images-idx3-ubyte(.gz) and "
          + prefix + "-labels-idx1-ubyte(.gz) in " + dir + "; " + howTo);
    }
    IdxReader.Images im = IdxReader.readImages(images);
    int[] y = IdxReader.readLabels(labels);
    if (y.length != im.count()) {
      throw new DatasetException(name + ": " + images.getFileName() + " has " + im.count()
          + " images but " + labels.getFileName() + " has " + y.length + " labels");
    }
    for (int v : y) {
      if (v >= classes.size()) {
        throw new DatasetException(name + ": label " + v + " in " + labels + " is not a class index");
      }
    }
    return new ImageDataset(name + "/" + split.name().toLowerCase(Locale.ROOT), 1, im.rows(), im.cols(),
        classes.size(), classes, im.pixels(), y);
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
