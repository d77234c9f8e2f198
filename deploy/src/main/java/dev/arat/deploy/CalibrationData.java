package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.arat.data.ImageDataset;
import dev.arat.data.Permutations;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Tensors;
import java.util.Arrays;
import java.util.List;

/**
 * Calibration images: {@code n} float32 NCHW images in the model's input units (for arat models
 * {@code [0,1]} pixels), taken from a training split, never the test split.
 *
 * @param pixels {@code n * c * h * w} values, row-major
 * @param n number of images
 * @param c channels
 * @param h height
 * @param w width
 * @param sha256 SHA-256 (hex) of the images and labels ({@link ImageDataset#sha256()}), recorded in
 *     the quantized model's metadata
 * @param source what they are, e.g. {@code fashion-mnist train (512 of 60000, seed 0x...)}
 */
public record CalibrationData(
    float[] pixels, int n, int c, int h, int w, String sha256, String source) {
  /** Seed of the choice of calibration images in a training split. */
  public static final long SEED = 0xca11b8L;

  /** Checks the counts. */
  public CalibrationData {
    if (n <= 0 || (long) n * c * h * w != pixels.length) {
      throw new QuantizationException(
          "calibration data: "
              + pixels.length
              + " values do not"
              + " make "
              + n
              + " images of "
              + c
              + "x"
              + h
              + "x"
              + w);
    }
  }

  /**
   * The first {@code count} images of a seeded permutation of {@code train}.
   *
   * @param train the training split
   * @param count images wanted (at most the split's size)
   */
  public static CalibrationData fromTraining(ImageDataset train, int count) {
    if (count <= 0) {
      throw new QuantizationException("calibration needs at least 1 image, asked for " + count);
    }
    int[] idx = Permutations.firstOf(train.size(), Math.min(count, train.size()), SEED);
    ImageDataset sub = train.subset(idx);
    return new CalibrationData(
        sub.pixels(),
        idx.length,
        sub.channels(),
        sub.height(),
        sub.width(),
        sub.sha256(),
        train.name() + " train (" + idx.length + " of " + train.size() + ")");
  }

  /**
   * Checks that these images fit the model's input (float32, (N, C, H, W) with N free and C, H, W
   * fixed or free); a fixed batch size or a channels-last input is refused, naming the fix.
   *
   * @throws QuantizationException naming both shapes when they differ
   */
  public void checkFits(ModelProto model) {
    List<ValueInfoProto> ins = OnnxModels.dataInputs(model.getGraph());
    if (ins.size() != 1) {
      throw new QuantizationException(
          "the model has "
              + ins.size()
              + " inputs; quantization"
              + " needs a classifier with one image input");
    }
    long[] d = Tensors.declaredDims(ins.get(0));
    if (d == null || d.length != 4) {
      throw new QuantizationException(
          "the model input '"
              + ins.get(0).getName()
              + "' is not"
              + " declared as (N,C,H,W); calibration needs a 4-D image input");
    }
    String name = ins.get(0).getName();
    if (d[0] > 0) { // calibration runs batches of up to 64 images
      throw new QuantizationException(
          "the model input '"
              + name
              + "' declares a fixed batch size "
              + d[0]
              + "; int8 calibration needs a dynamic batch axis: export the model with one"
              + " (torch.onnx.export(..., dynamic_axes={'input': {0: 'batch'}})), or use --precision fp16");
    }
    boolean channelsFirst =
        (d[1] <= 0 || d[1] == c) && (d[2] <= 0 || d[2] == h) && (d[3] <= 0 || d[3] == w);
    boolean channelsLast =
        (d[1] <= 0 || d[1] == h) && (d[2] <= 0 || d[2] == w) && (d[3] <= 0 || d[3] == c);
    if (!channelsFirst && channelsLast) {
      throw new QuantizationException(
          "the model input '"
              + name
              + "' takes channels-last (N,H,W,C) images; int8"
              + " calibration feeds (N,C,H,W): export the model channels-first, or use --precision fp16");
    }
    long[] mine = {c, h, w};
    for (int a = 1; a < 4; a++) {
      if (d[a] > 0 && d[a] != mine[a - 1]) {
        throw new QuantizationException(
            "calibration images are "
                + c
                + "x"
                + h
                + "x"
                + w
                + " (CxHxW) but the model input '"
                + ins.get(0).getName()
                + "' takes "
                + Arrays.toString(Arrays.copyOfRange(d, 1, 4)).replace(", ", "x")
                + "; use calibration data of the model's training set");
      }
    }
  }
}
