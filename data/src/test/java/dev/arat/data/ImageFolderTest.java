package dev.arat.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Image-folder datasets from tiny PNGs and JPEGs written with ImageIO. */
class ImageFolderTest {
  @TempDir Path dir;

  static void solid(Path file, int w, int h, int rgb, String format) throws IOException {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, rgb);
      }
    }
    Files.createDirectories(file.getParent());
    assertTrue(ImageIO.write(img, format, file.toFile()));
  }

  /** Three classes (cat, dog, eel) of 5 images each, sizes 10x6 and 6x10, colours per class. */
  private void flatLayout(Path root) throws IOException {
    int[] colours = {0xff0000, 0x00ff00, 0x0000ff};
    String[] names = {"dog", "cat", "eel"};
    for (int k = 0; k < 3; k++) {
      for (int i = 0; i < 5; i++) {
        solid(
            root.resolve(names[k]).resolve("img" + i + ".png"),
            i % 2 == 0 ? 10 : 6,
            i % 2 == 0 ? 6 : 10,
            colours[k],
            "png");
      }
    }
    Files.writeString(root.resolve("cat/notes.txt"), "ignored");
  }

  @Test
  void classPerSubfolderWithSeededStratifiedSplit() throws IOException {
    flatLayout(dir);
    ImageFolder.Options o = new ImageFolder.Options(4, ImageFolder.Resize.RESIZE, 3, 0.4, 7);
    ImageDataset train = ImageFolder.load(dir, o, Split.TRAIN);
    ImageDataset test = ImageFolder.load(dir, o, Split.TEST);
    assertEquals(List.of("cat", "dog", "eel"), train.classNames()); // sorted names = indices
    assertEquals(9, train.size()); // 3 per class
    assertEquals(6, test.size()); // round(5 * 0.4) = 2 per class
    assertEquals(3, train.channels());
    assertEquals(4, train.height());
    int[] counts = new int[3];
    for (int y : test.labels()) {
      counts[y]++;
    }
    assertArrayEquals(new int[] {2, 2, 2}, counts);
    // cat is green: channel 1 is 1, others 0, after resizing a solid image
    int per = train.imageSize();
    for (int i = 0; i < train.size(); i++) {
      int k = train.labels()[i];
      int want = k == 0 ? 1 : k == 1 ? 0 : 2;
      for (int c = 0; c < 3; c++) {
        assertEquals(c == want ? 1f : 0f, train.pixels()[i * per + c * 16 + 5], 1e-6f);
      }
    }
    // same seed, same split; another seed, another split
    assertEquals(test.sha256(), ImageFolder.load(dir, o, Split.TEST).sha256());
    ImageFolder.Options o2 = new ImageFolder.Options(4, ImageFolder.Resize.RESIZE, 3, 0.4, 8);
    assertEquals(6, ImageFolder.load(dir, o2, Split.TEST).size());
  }

  @Test
  void splitIsSeededAndDisjoint() throws IOException {
    Path root = dir.resolve("grad");
    for (int k = 0; k < 2; k++) {
      for (int i = 0; i < 10; i++) {
        int v = k * 100 + i * 10; // grey level identifies the file
        solid(
            root.resolve("c" + k).resolve(String.format("f%02d.png", i)),
            3,
            3,
            v << 16 | v << 8 | v,
            "png");
      }
    }
    ImageFolder.Options o = new ImageFolder.Options(3, ImageFolder.Resize.RESIZE, 1, 0.3, 1);
    ImageDataset train = ImageFolder.load(root, o, Split.TRAIN);
    ImageDataset test = ImageFolder.load(root, o, Split.TEST);
    assertEquals(14, train.size());
    assertEquals(6, test.size());
    java.util.Set<Float> seen = new java.util.HashSet<>();
    for (int i = 0; i < train.size(); i++) {
      assertTrue(seen.add(train.pixels()[i * 9]));
    }
    for (int i = 0; i < test.size(); i++) {
      assertTrue(seen.add(test.pixels()[i * 9]), "train and test must not share an image");
    }
    ImageFolder.Options other = new ImageFolder.Options(3, ImageFolder.Resize.RESIZE, 1, 0.3, 2);
    assertNotEquals(test.sha256(), ImageFolder.load(root, other, Split.TEST).sha256());
  }

  @Test
  void trainAndValSubfoldersAndJpeg() throws IOException {
    solid(dir.resolve("train/a/1.jpg"), 8, 8, 0xc08040, "jpg");
    solid(dir.resolve("train/a/2.JPEG"), 9, 7, 0xc08040, "jpg");
    solid(dir.resolve("train/b/1.png"), 8, 8, 0x204060, "png");
    solid(dir.resolve("val/b/9.png"), 5, 5, 0x204060, "png");
    ImageDataset train = ImageFolder.load(dir, 4, ImageFolder.Resize.CENTER_CROP, Split.TRAIN);
    ImageDataset val = ImageFolder.load(dir, 4, ImageFolder.Resize.CENTER_CROP, Split.TEST);
    assertEquals(3, train.size());
    assertArrayEquals(new int[] {0, 0, 1}, train.labels());
    assertEquals(1, val.size());
    assertArrayEquals(new int[] {1}, val.labels(), "val/b is class index 1 of train's classes");
    // JPEG is lossy: close to the colour
    assertEquals(0xc0 / 255f, train.pixels()[5], 0.03f);
    assertEquals(0x80 / 255f, train.pixels()[16 + 5], 0.03f);
    assertEquals(0x40 / 255f, train.pixels()[32 + 5], 0.03f);
    assertEquals(0x20 / 255f, val.pixels()[0], 1e-6f);
    // Datasets addresses the same folder by name
    assertEquals(3, Datasets.load("folder:" + dir, null, Split.TRAIN).size());
    assertEquals(32, Datasets.load("folder", dir, Split.TEST).width());
    ImageDataset grey =
        Datasets.load(
            "folder",
            dir,
            Split.TRAIN,
            new ImageFolder.Options(6, ImageFolder.Resize.RESIZE, 1, 0.2, 0));
    assertEquals(1, grey.channels());
    assertEquals(6, grey.height());
  }

  @Test
  void centreCropKeepsTheMiddleAndResizeSquashes() throws IOException {
    // 12x4 image: left third red, middle third green, right third blue
    BufferedImage img = new BufferedImage(12, 4, BufferedImage.TYPE_INT_RGB);
    for (int x = 0; x < 12; x++) {
      for (int y = 0; y < 4; y++) {
        img.setRGB(x, y, x < 4 ? 0xff0000 : x < 8 ? 0x00ff00 : 0x0000ff);
      }
    }
    Path f = dir.resolve("x.png");
    ImageIO.write(img, "png", f.toFile());
    float[] crop =
        ImageFolder.read(f, new ImageFolder.Options(4, ImageFolder.Resize.CENTER_CROP, 3, 0.2, 0));
    for (int i = 0; i < 16; i++) {
      assertEquals(0f, crop[i], 1e-6f); // red plane
      assertEquals(1f, crop[16 + i], 1e-6f); // green plane: the centre square is all green
    }
    float[] squash =
        ImageFolder.read(f, new ImageFolder.Options(3, ImageFolder.Resize.RESIZE, 3, 0.2, 0));
    // 12 -> 3 columns, antialiased: each output column is mostly its own third (triangle filter
    // of radius 4 source pixels): red at column 0, green in the middle, blue at column 2
    assertTrue(squash[0] > 0.8f && squash[9 + 1] > 0.7f && squash[18 + 2] > 0.8f);
    assertEquals(0f, squash[18], 1e-6f, "blue is too far from column 0 to contribute");
    assertEquals(squash[0], squash[18 + 2], 1e-6f, "symmetric");
    float[] grey =
        ImageFolder.read(f, new ImageFolder.Options(4, ImageFolder.Resize.CENTER_CROP, 1, 0.2, 0));
    assertEquals(0.587f, grey[5], 1e-5f);
  }

  @Test
  void greyPngStaysLinearAndUpscalingIsBilinear() throws IOException {
    BufferedImage g = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_GRAY);
    g.getRaster().setSample(0, 0, 0, 0);
    g.getRaster().setSample(1, 0, 0, 200);
    Path f = dir.resolve("g.png");
    ImageIO.write(g, "png", f.toFile());
    float[] one =
        ImageFolder.read(f, new ImageFolder.Options(2, ImageFolder.Resize.RESIZE, 1, 0.2, 0));
    assertEquals(0f, one[0], 1e-6f);
    assertEquals(
        200 / 255f, one[1], 1e-6f, "grey samples are read as stored, not colour-converted");
    float[] three =
        ImageFolder.read(f, new ImageFolder.Options(2, ImageFolder.Resize.RESIZE, 3, 0.2, 0));
    assertEquals(200 / 255f, three[4 + 1], 1e-6f);
    // 2 -> 4 columns, pixel centres at +0.5: 0, 1/4, 3/4, 1 of the step
    float[] up = ImageFolder.resize(new float[] {0f, 1f}, 1, 1, 2, 1, 4);
    assertArrayEquals(new float[] {0f, 0.25f, 0.75f, 1f}, up, 1e-6f);
  }

  @Test
  void unreadableImagesAndBadLayoutsAreNamed() throws IOException {
    solid(dir.resolve("a/ok.png"), 4, 4, 0x808080, "png");
    solid(dir.resolve("b/ok.png"), 4, 4, 0x808080, "png");
    Path bad = dir.resolve("b/broken.png");
    Files.writeString(bad, "not a png");
    ImageFolder.Options o = new ImageFolder.Options(4, ImageFolder.Resize.RESIZE, 3, 0.0, 0);
    DatasetException e =
        assertThrows(DatasetException.class, () -> ImageFolder.load(dir, o, Split.TRAIN));
    assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
    Files.delete(bad);
    assertEquals(2, ImageFolder.load(dir, o, Split.TRAIN).size());
    assertEquals(0, ImageFolder.load(dir, o, Split.TEST).size());

    e =
        assertThrows(
            DatasetException.class, () -> ImageFolder.load(dir.resolve("nope"), o, Split.TRAIN));
    assertTrue(e.getMessage().contains("nope"), e.getMessage());
    Files.createDirectories(dir.resolve("c"));
    e = assertThrows(DatasetException.class, () -> ImageFolder.load(dir, o, Split.TRAIN));
    assertTrue(
        e.getMessage().contains("c") && e.getMessage().contains("no PNG/JPEG"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> new ImageFolder.Options(4, ImageFolder.Resize.RESIZE, 2, 0.2, 0));
  }
}
