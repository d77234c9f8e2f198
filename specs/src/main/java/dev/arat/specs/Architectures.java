package dev.arat.specs;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The built-in architectures, addressed by name from a recipe's {@code architecture} field.
 *
 * <p>All of them take float32 {@code (N,C,H,W)} input in {@code [0,1]}, are split-BN-ready (every
 * {@link LayerSpec.BatchNorm} has an {@code adv} and a {@code clean} branch in training) and name
 * their layers so that the invariance taps of ARAT-METHOD.md §1.3 exist:
 *
 * <ul>
 *   <li>{@code small-cnn}: {@link #smallCnn}.
 *   <li>{@code resnet18}: {@link #resnet18}, the paper's CIFAR ResNet-18.
 *   <li>{@code preact-resnet18}: {@link #preactResnet18}.
 *   <li>{@code wrn-34-10}, {@code wrn-28-10} and any {@code wrn-<depth>-<widen>} with {@code
 *       (depth-4) % 6 == 0}: {@link #wrn}, the TRADES/Madry WideResNet.
 * </ul>
 */
public final class Architectures {
  private Architectures() {}

  /**
   * The fixed names accepted by {@link #named}; {@code wrn-<depth>-<widen>} is accepted for any
   * valid depth and widening factor as well (see {@link #isKnown}).
   */
  public static final List<String> NAMES =
      List.of("small-cnn", "resnet18", "preact-resnet18", "wrn-34-10", "wrn-28-10");

  private static final Pattern WRN = Pattern.compile("wrn-(\\d{1,4})-(\\d{1,3})");

  /**
   * Whether {@code name} is a built-in architecture: one of {@link #NAMES}, or {@code
   * wrn-<depth>-<widen>} with {@code depth >= 10}, {@code (depth-4) % 6 == 0} and {@code widen >=
   * 1}.
   */
  public static boolean isKnown(String name) {
    if (name == null) {
      return false;
    }
    if (NAMES.contains(name)) {
      return true;
    }
    Matcher m = WRN.matcher(name);
    if (!m.matches()) {
      return false;
    }
    int depth = Integer.parseInt(m.group(1));
    int widen = Integer.parseInt(m.group(2));
    return depth >= 10 && (depth - 4) % 6 == 0 && widen >= 1;
  }

  /**
   * Returns the built-in architecture {@code name} for inputs of the given geometry.
   *
   * @param name a name for which {@link #isKnown} holds
   * @param channels input channels C
   * @param height input height H
   * @param width input width W
   * @param numClasses number of logits K (at least 2)
   * @param mean per-channel mean subtracted inside the network (length C)
   * @param std per-channel standard deviation divided inside the network (length C, each > 0)
   * @throws IllegalArgumentException naming the known architectures when {@code name} is unknown
   */
  public static ArchitectureSpec named(
      String name, int channels, int height, int width, int numClasses, float[] mean, float[] std) {
    if ("small-cnn".equals(name)) {
      return smallCnn(channels, height, width, numClasses, mean, std);
    }
    if ("resnet18".equals(name)) {
      return resnet18(channels, height, width, numClasses, mean, std);
    }
    if ("preact-resnet18".equals(name)) {
      return preactResnet18(channels, height, width, numClasses, mean, std);
    }
    if (name != null && isKnown(name)) {
      Matcher m = WRN.matcher(name);
      if (m.matches()) {
        return wrn(
            Integer.parseInt(m.group(1)),
            Integer.parseInt(m.group(2)),
            channels,
            height,
            width,
            numClasses,
            mean,
            std);
      }
    }
    throw new IllegalArgumentException(
        "architecture: unknown '"
            + name
            + "', expected one of "
            + NAMES
            + " or wrn-<depth>-<widen> with (depth-4) divisible by 6");
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
        "small-cnn",
        channels,
        height,
        width,
        numClasses,
        mean,
        std,
        layers,
        List.of("bn2", "fc1"),
        1e-5,
        0.1);
  }

  /**
   * The CIFAR ResNet-18 of the paper (ARAT-METHOD.md §4): post-activation BasicBlocks [2,2,2,2]
   * with widths 64/128/256/512, a 3x3 stride-1 stem conv + BN + ReLU, no max-pool, 1x1 conv + BN
   * projection shortcuts where the shape changes, global average pooling and {@code Linear(512,K)}.
   * Convolutions have no bias.
   *
   * <p>Layer names follow the PyTorch reference ({@code conv1}, {@code bn1}, {@code
   * layer{1..4}.{0,1}.{conv1,bn1,conv2,bn2}}, {@code layerX.Y.shortcut.0} (conv), {@code
   * layerX.Y.shortcut.1} (BN), {@code linear}), so weights map one to one. Block {@code layerX.Y}
   * is a {@link LayerSpec.Residual} whose body is {@code conv1,bn1,relu1,conv2,bn2}; the block's
   * output ReLU is the separate layer {@code layerX.Y.relu}.
   *
   * <p>Taps: {@code layer4.0.bn1, layer4.0.bn2, layer4.1.bn1, layer4.1.bn2} (§1.3). For {@code bn2}
   * the tapped tensor is the residual branch before the skip addition; the tap's ReLU+GAP gives the
   * feature. 11,173,962 trainable parameters for 3 channels and 10 classes with one BN set. At
   * 32x32 input the last stage runs at 4x4.
   *
   * <p>Arguments as in {@link #named}; any input size works (the pooling is global).
   *
   * @return the spec named {@code resnet18}
   */
  public static ArchitectureSpec resnet18(
      int channels, int height, int width, int numClasses, float[] mean, float[] std) {
    List<LayerSpec> ls = new ArrayList<>();
    ls.add(new LayerSpec.Conv("conv1", 64, 3, 1, 1, false));
    ls.add(new LayerSpec.BatchNorm("bn1"));
    ls.add(new LayerSpec.Relu("relu"));
    int in = 64;
    int[] widths = {64, 128, 256, 512};
    for (int stage = 0; stage < 4; stage++) {
      int out = widths[stage];
      for (int b = 0; b < 2; b++) {
        int stride = stage > 0 && b == 0 ? 2 : 1;
        String p = "layer" + (stage + 1) + "." + b + ".";
        List<LayerSpec> body =
            List.of(
                new LayerSpec.Conv(p + "conv1", out, 3, stride, 1, false),
                new LayerSpec.BatchNorm(p + "bn1"),
                new LayerSpec.Relu(p + "relu1"),
                new LayerSpec.Conv(p + "conv2", out, 3, 1, 1, false),
                new LayerSpec.BatchNorm(p + "bn2"));
        List<LayerSpec> shortcut =
            stride != 1 || in != out
                ? List.of(
                    new LayerSpec.Conv(p + "shortcut.0", out, 1, stride, 0, false),
                    new LayerSpec.BatchNorm(p + "shortcut.1"))
                : List.of();
        ls.add(new LayerSpec.Residual(p.substring(0, p.length() - 1), body, shortcut));
        ls.add(new LayerSpec.Relu(p + "relu"));
        in = out;
      }
    }
    ls.add(new LayerSpec.GlobalAvgPool("avgpool"));
    ls.add(new LayerSpec.Flatten("flatten"));
    ls.add(new LayerSpec.Linear("linear", numClasses, true));
    return new ArchitectureSpec(
        "resnet18",
        channels,
        height,
        width,
        numClasses,
        mean,
        std,
        ls,
        List.of("layer4.0.bn1", "layer4.0.bn2", "layer4.1.bn1", "layer4.1.bn2"),
        1e-5,
        0.1);
  }

  /**
   * PreAct ResNet-18 (He et al. 2016, "Identity mappings"; the variant common in adversarial
   * training, e.g. Rice et al. 2020): a 3x3 stride-1 stem conv without BN, pre-activation blocks
   * [2,2,2,2] with widths 64/128/256/512, then a final BN-ReLU, global average pooling and {@code
   * Linear(512,K)}. Convolutions have no bias.
   *
   * <p>Block {@code layerX.Y} is a {@link LayerSpec.Residual} with {@code pre = [bn1, relu1]},
   * {@code body = [conv1, bn2, relu2, conv2]}; where the shape changes the shortcut is a 1x1
   * strided conv {@code layerX.Y.shortcut.0} (no BN) reading the pre-activated input ({@code
   * shortcutFromPre = true}), otherwise the identity of the raw input. Final layers: {@code bn},
   * {@code relu}, {@code avgpool}, {@code flatten}, {@code linear}.
   *
   * <p>Taps (this project's choice by analogy with WRN's rule of §1.3, "all ReLU outputs of the
   * last group plus the pooled feature"): {@code layer4.0.relu1} (256-d, the group's input), {@code
   * layer4.0.relu2}, {@code layer4.1.relu1}, {@code layer4.1.relu2} (512-d) and {@code avgpool}.
   * 11,172,170 trainable parameters for 3 channels and 10 classes with one BN set.
   *
   * <p>Arguments as in {@link #named}.
   *
   * @return the spec named {@code preact-resnet18}
   */
  public static ArchitectureSpec preactResnet18(
      int channels, int height, int width, int numClasses, float[] mean, float[] std) {
    List<LayerSpec> ls = new ArrayList<>();
    ls.add(new LayerSpec.Conv("conv1", 64, 3, 1, 1, false));
    int in = 64;
    int[] widths = {64, 128, 256, 512};
    for (int stage = 0; stage < 4; stage++) {
      int out = widths[stage];
      for (int b = 0; b < 2; b++) {
        int stride = stage > 0 && b == 0 ? 2 : 1;
        String p = "layer" + (stage + 1) + "." + b + ".";
        boolean project = stride != 1 || in != out;
        ls.add(preActBlock(p, "shortcut.0", out, stride, project));
        in = out;
      }
    }
    ls.add(new LayerSpec.BatchNorm("bn"));
    ls.add(new LayerSpec.Relu("relu"));
    ls.add(new LayerSpec.GlobalAvgPool("avgpool"));
    ls.add(new LayerSpec.Flatten("flatten"));
    ls.add(new LayerSpec.Linear("linear", numClasses, true));
    return new ArchitectureSpec(
        "preact-resnet18",
        channels,
        height,
        width,
        numClasses,
        mean,
        std,
        ls,
        List.of("layer4.0.relu1", "layer4.0.relu2", "layer4.1.relu1", "layer4.1.relu2", "avgpool"),
        1e-5,
        0.1);
  }

  /**
   * The pre-activation WideResNet of TRADES and Madry et al. (ARAT-METHOD.md §4), WRN-{@code
   * depth}-{@code widen}: a 3x3 stride-1 stem conv to 16 channels, three groups of {@code n =
   * (depth-4)/6} pre-activation blocks with widths {@code 16·widen}, {@code 32·widen}, {@code
   * 64·widen} and strides 1, 2, 2, then BN-ReLU, global average pooling and {@code
   * Linear(64·widen,K)} with bias. Dropout 0; convolutions have no bias. Named {@code
   * wrn-<depth>-<widen>}.
   *
   * <p>Layer names follow the TRADES code: {@code conv1}; block {@code block{1,2,3}.layer.{i}} is a
   * {@link LayerSpec.Residual} with {@code pre = [bn1, relu1]}, {@code body = [conv1, bn2, relu2,
   * conv2]} and, where the width or stride changes ({@code equalInOut} false), the shortcut {@code
   * convShortcut} (1x1, strided, no BN) reading the pre-activated input, otherwise the identity of
   * the raw input; then {@code bn1}, {@code relu}, {@code avgpool}, {@code flatten}, {@code fc}.
   *
   * <p>Taps (§1.3): {@code block3.layer.{0..n-1}.relu1}, {@code block3.layer.{0..n-1}.relu2} and
   * {@code avgpool} — 11 for WRN-34-10, where {@code block3.layer.0.relu1} is 320-d and the rest
   * 640-d. WRN-34-10 has 46,160,474 trainable parameters for 10 classes with one BN set.
   *
   * <p>The remaining arguments are as in {@link #named}.
   *
   * @param depth total depth, at least 10, with {@code (depth-4) % 6 == 0}
   * @param widen widening factor k, at least 1
   * @return the spec named {@code wrn-<depth>-<widen>}
   * @throws IllegalArgumentException for an impossible depth or width
   */
  public static ArchitectureSpec wrn(
      int depth,
      int widen,
      int channels,
      int height,
      int width,
      int numClasses,
      float[] mean,
      float[] std) {
    if (depth < 10 || (depth - 4) % 6 != 0) {
      throw new IllegalArgumentException(
          "wrn: depth must be >= 10 with (depth-4) divisible by 6 (e.g. 10, 16, 28, 34), was "
              + depth);
    }
    if (widen < 1) {
      throw new IllegalArgumentException("wrn: widen factor must be >= 1, was " + widen);
    }
    int n = (depth - 4) / 6;
    int[] widths = {16 * widen, 32 * widen, 64 * widen};
    List<LayerSpec> ls = new ArrayList<>();
    ls.add(new LayerSpec.Conv("conv1", 16, 3, 1, 1, false));
    int in = 16;
    List<String> taps = new ArrayList<>();
    for (int g = 0; g < 3; g++) {
      int out = widths[g];
      for (int i = 0; i < n; i++) {
        int stride = g > 0 && i == 0 ? 2 : 1;
        String p = "block" + (g + 1) + ".layer." + i + ".";
        boolean project = in != out || stride != 1;
        ls.add(preActBlock(p, "convShortcut", out, stride, project));
        if (g == 2) {
          taps.add(p + "relu1");
          taps.add(p + "relu2");
        }
        in = out;
      }
    }
    ls.add(new LayerSpec.BatchNorm("bn1"));
    ls.add(new LayerSpec.Relu("relu"));
    ls.add(new LayerSpec.GlobalAvgPool("avgpool"));
    ls.add(new LayerSpec.Flatten("flatten"));
    ls.add(new LayerSpec.Linear("fc", numClasses, true));
    taps.add("avgpool");
    return new ArchitectureSpec(
        "wrn-" + depth + "-" + widen,
        channels,
        height,
        width,
        numClasses,
        mean,
        std,
        ls,
        taps,
        1e-5,
        0.1);
  }

  /**
   * One pre-activation block {@code p} (prefix ending in a dot): {@code pre = [p.bn1, p.relu1]},
   * {@code body = [p.conv1, p.bn2, p.relu2, p.conv2]}, and a 1x1 projection {@code p.shortcut} from
   * the pre-activated input when {@code project}, else the identity of the raw input.
   */
  private static LayerSpec.Residual preActBlock(
      String p, String shortcut, int out, int stride, boolean project) {
    List<LayerSpec> pre =
        List.of(new LayerSpec.BatchNorm(p + "bn1"), new LayerSpec.Relu(p + "relu1"));
    List<LayerSpec> body =
        List.of(
            new LayerSpec.Conv(p + "conv1", out, 3, stride, 1, false),
            new LayerSpec.BatchNorm(p + "bn2"),
            new LayerSpec.Relu(p + "relu2"),
            new LayerSpec.Conv(p + "conv2", out, 3, 1, 1, false));
    List<LayerSpec> sc =
        project ? List.of(new LayerSpec.Conv(p + shortcut, out, 1, stride, 0, false)) : List.of();
    return new LayerSpec.Residual(p.substring(0, p.length() - 1), pre, body, sc, project);
  }
}
