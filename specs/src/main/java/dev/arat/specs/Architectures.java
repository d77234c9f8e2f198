package dev.arat.specs;

import java.util.List;

/** The built-in architectures, addressed by name from a recipe's {@code architecture} field. */
public final class Architectures {
  private Architectures() {}

  /** Names accepted by {@link #named}. */
  public static final List<String> NAMES = List.of("small-cnn");

  /**
   * Returns the built-in architecture {@code name} for inputs of the given geometry.
   *
   * @throws IllegalArgumentException naming the known architectures when {@code name} is unknown
   */
  public static ArchitectureSpec named(
      String name, int channels, int height, int width, int numClasses, float[] mean, float[] std) {
    if ("small-cnn".equals(name)) {
      return smallCnn(channels, height, width, numClasses, mean, std);
    }
    throw new IllegalArgumentException(
        "architecture: unknown '" + name + "', expected one of " + NAMES);
  }

  /**
   * A small split-BN CNN for 28x28 grayscale images (Fashion-MNIST, MNIST): two 5x5 conv-BN-ReLU-
   * maxpool stages (32 and 64 channels), then a 256-unit hidden layer and the classifier. The
   * invariance loss taps the last conv stage's BN output and the hidden layer (the "last block"
   * rule of ARAT-METHOD.md §1.3, scaled down). About 0.87 M parameters at 28x28.
   */
  public static ArchitectureSpec smallCnn(
      int channels, int height, int width, int numClasses, float[] mean, float[] std) {
    if (height % 4 != 0 || width % 4 != 0) {
      throw new IllegalArgumentException(
          "small-cnn needs height and width divisible by 4, was " + height + "x" + width);
    }
    List<LayerSpec> layers =
        List.of(
            new LayerSpec.Conv("conv1", 32, 5, 1, 2, false),
            new LayerSpec.BatchNorm("bn1"),
            new LayerSpec.Relu("relu1"),
            new LayerSpec.MaxPool("pool1", 2, 2),
            new LayerSpec.Conv("conv2", 64, 5, 1, 2, false),
            new LayerSpec.BatchNorm("bn2"),
            new LayerSpec.Relu("relu2"),
            new LayerSpec.MaxPool("pool2", 2, 2),
            new LayerSpec.Flatten("flatten"),
            new LayerSpec.Linear("fc1", 256, true),
            new LayerSpec.Relu("relu3"),
            new LayerSpec.Linear("fc2", numClasses, true));
    return new ArchitectureSpec(
        "small-cnn", channels, height, width, numClasses, mean, std, layers,
        List.of("bn2", "fc1"), 1e-5, 0.1);
  }
}
