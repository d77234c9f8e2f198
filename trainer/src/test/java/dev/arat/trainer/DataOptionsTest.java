package dev.arat.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import ai.djl.ndarray.NDManager;
import dev.arat.data.ImageDataset;
import dev.arat.data.ImageFolder;
import dev.arat.data.SyntheticDataset;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Architectures;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.Specs;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.nn.SplitBnNetwork;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Data options: augmentation, normalisation, image-folder options, and the WRN init. */
class DataOptionsTest {
  static TrainingRecipe standard(String extra) {
    return Specs.parse(
        "method: standard\nseed: 4\n"
            + "data: {dataset: synthetic, train_samples: 64"
            + extra
            + "}\nepochs: 1\nbatch_size: 32\n"
            + "optimizer: {lr: 0.05}\nschedule: {type: constant}\nevaluation: {samples: 0}\n",
        TrainingRecipe.class,
        "test");
  }

  @Test
  void augmentationIsAppliedAndSeeded(@TempDir Path tmp) throws Exception {
    String aug = ", augmentation: {random_crop_padding: 2, horizontal_flip: true}";
    new Trainer().train(standard(""), tmp.resolve("plain"), false, null, null);
    new Trainer().train(standard(aug), tmp.resolve("a1"), false, null, null);
    new Trainer().train(standard(aug), tmp.resolve("a2"), false, null, null);
    TrainerTest.assertSameWeights(
        tmp.resolve("a1/checkpoints/epoch-0001"), tmp.resolve("a2/checkpoints/epoch-0001"));
    float[] p = Checkpoint.read(tmp.resolve("plain")).weights().get("conv1.weight").data();
    float[] a = Checkpoint.read(tmp.resolve("a1")).weights().get("conv1.weight").data();
    assertFalse(Arrays.equals(p, a), "augmentation changes the training batches");
    assertEquals(
        "random_crop_padding=2,horizontal_flip=true",
        Checkpoint.read(tmp.resolve("a1")).state().provenance().get("augmentation"));
  }

  @Test
  void normalizeNoneGivesMeanZeroStdOne() {
    ImageDataset d = SyntheticDataset.generate(1, 32, 3, 32, 32, 10);
    ArchitectureSpec ds =
        Trainer.architecture(Specs.parse("architecture: resnet18\n", TrainingRecipe.class, "t"), d);
    ArchitectureSpec none =
        Trainer.architecture(
            Specs.parse(
                "architecture: resnet18\n" + "normalize: none\n", TrainingRecipe.class, "t"),
            d);
    assertArrayEquals(d.channelMean(), ds.mean());
    assertArrayEquals(new float[3], none.mean());
    assertArrayEquals(new float[] {1, 1, 1}, none.std());
  }

  @Test
  void imageFolderOptionsComeFromTheRecipe() {
    TrainingRecipe r =
        Specs.parse(
            "seed: 9\ndata: {dataset: folder, image_size: 64, resize: resize,"
                + " channels: 1, test_fraction: 0.3}\n",
            TrainingRecipe.class,
            "t");
    ImageFolder.Options o = Trainer.folderOptions(r);
    assertEquals(new ImageFolder.Options(64, ImageFolder.Resize.RESIZE, 1, 0.3, 9), o);
    assertEquals(
        ImageFolder.Resize.CENTER_CROP,
        Trainer.folderOptions(Specs.parse("seed: 1\n", TrainingRecipe.class, "t")).resize());
  }

  @Test
  void wrnUsesTheWideResNetInit() {
    assertEquals(SplitBnNetwork.Init.WRN, SplitBnNetwork.Init.forArchitecture("wrn-34-10"));
    assertEquals(
        SplitBnNetwork.Init.TORCH_DEFAULT, SplitBnNetwork.Init.forArchitecture("resnet18"));
    ArchitectureSpec spec =
        Architectures.wrn(10, 2, 3, 32, 32, 10, new float[3], new float[] {1, 1, 1});
    TrainingRecipe r =
        Specs.parse("method: pgd-at\narchitecture: wrn-10-2\n", TrainingRecipe.class, "t");
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net = Trainer.newNetwork(r, spec, m)) {
      assertEquals(SplitBnNetwork.Init.WRN, net.init());
      float[] w = net.parameters().get("block3.layer.0.conv1.weight").toFloatArray();
      double sq = 0;
      double mean = 0;
      for (float v : w) {
        sq += v * v;
        mean += v;
      }
      double std = Math.sqrt(sq / w.length);
      assertEquals(Math.sqrt(2.0 / (9 * 128)), std, 0.02 * std);
      assertEquals(0, mean / w.length, 0.05 * std);
      assertArrayEquals(new float[10], net.parameters().get("fc.bias").toFloatArray());
    }
  }
}
