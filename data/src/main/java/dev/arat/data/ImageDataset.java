package dev.arat.data;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * A labelled image set held in memory.
 *
 * <p>Pixels are float32, NCHW, row-major, in {@code [0,1]}; labels are class indices in {@code [0,
 * numClasses)}. Normalisation never happens here: it lives inside the network.
 *
 * @param name dataset name and split, e.g. {@code fashion-mnist/test}
 * @param channels C
 * @param height H
 * @param width W
 * @param numClasses number of classes
 * @param classNames one name per class
 * @param pixels {@code size * C * H * W} values
 * @param labels {@code size} class indices
 */
public record ImageDataset(
    String name,
    int channels,
    int height,
    int width,
    int numClasses,
    List<String> classNames,
    float[] pixels,
    int[] labels) {

  /** Checks that pixels and labels agree in count and range. */
  public ImageDataset {
    int per = channels * height * width;
    if (per <= 0 || pixels.length != (long) labels.length * per) {
      throw new IllegalArgumentException(
          name
              + ": "
              + pixels.length
              + " pixel values do not fit "
              + labels.length
              + " images of "
              + channels
              + "x"
              + height
              + "x"
              + width);
    }
    for (int y : labels) {
      if (y < 0 || y >= numClasses) {
        throw new IllegalArgumentException(
            name + ": label " + y + " outside [0," + numClasses + ")");
      }
    }
    classNames = List.copyOf(classNames);
  }

  /** Number of images. */
  public int size() {
    return labels.length;
  }

  /** Values per image, {@code C*H*W}. */
  public int imageSize() {
    return channels * height * width;
  }

  /** The images at {@code indices}, float32 {@code (indices.length, C, H, W)} row-major. */
  public float[] gatherPixels(int[] indices) {
    int per = imageSize();
    float[] out = new float[indices.length * per];
    for (int i = 0; i < indices.length; i++) {
      System.arraycopy(pixels, indices[i] * per, out, i * per, per);
    }
    return out;
  }

  /** The labels at {@code indices}. */
  public int[] gatherLabels(int[] indices) {
    int[] out = new int[indices.length];
    for (int i = 0; i < indices.length; i++) {
      out[i] = labels[indices[i]];
    }
    return out;
  }

  /** A new dataset of the images at {@code indices}, in that order. */
  public ImageDataset subset(int[] indices) {
    return new ImageDataset(
        name,
        channels,
        height,
        width,
        numClasses,
        classNames,
        gatherPixels(indices),
        gatherLabels(indices));
  }

  /** Per-channel mean of all pixels. */
  public float[] channelMean() {
    double[] sum = new double[channels];
    int hw = height * width;
    for (int i = 0; i < pixels.length; i++) {
      sum[(i / hw) % channels] += pixels[i];
    }
    float[] out = new float[channels];
    for (int c = 0; c < channels; c++) {
      out[c] = (float) (sum[c] / ((double) size() * hw));
    }
    return out;
  }

  /** Per-channel standard deviation of all pixels. */
  public float[] channelStd() {
    float[] mean = channelMean();
    double[] sum = new double[channels];
    int hw = height * width;
    for (int i = 0; i < pixels.length; i++) {
      int c = (i / hw) % channels;
      double d = pixels[i] - mean[c];
      sum[c] += d * d;
    }
    float[] out = new float[channels];
    for (int c = 0; c < channels; c++) {
      out[c] = (float) Math.sqrt(sum[c] / ((double) size() * hw));
    }
    return out;
  }

  /** SHA-256 (hex) of the pixels and labels, for provenance. */
  public String sha256() {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      ByteBuffer buf = ByteBuffer.allocate(1 << 16);
      for (float p : pixels) {
        if (buf.remaining() < 4) {
          md.update(buf.flip());
          buf.clear();
        }
        buf.putFloat(p);
      }
      for (int y : labels) {
        if (buf.remaining() < 4) {
          md.update(buf.flip());
          buf.clear();
        }
        buf.putInt(y);
      }
      md.update(buf.flip());
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
