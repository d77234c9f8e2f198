package dev.arat.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Architectures;
import dev.arat.specs.Builtins;
import dev.arat.specs.LayerSpec;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.nn.SplitBnNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every built-in recipe parses and every architecture builds. */
class RecipesAndArchitecturesTest {
  @Test
  void everyBuiltInRecipeParsesWithThePapersSettings() {
    assertTrue(Builtins.RECIPES.size() >= 21);
    for (String name : Builtins.RECIPES) {
      TrainingRecipe r = Builtins.recipe(name);
      assertTrue(TrainingRecipe.METHODS.contains(r.method()), name);
      if (name.startsWith("cifar")) {
        assertEquals(
            name.startsWith("cifar100") ? "cifar100" : "cifar10", r.data().dataset(), name);
        assertEquals(100, r.epochs(), name);
        assertEquals(128, r.batchSize(), name);
        assertEquals(0.1, r.optimizer().lr(), name);
        assertEquals(0.9, r.optimizer().momentum(), name);
        assertEquals(5e-4, r.optimizer().weightDecay(), name);
        assertEquals(List.of(75.0, 90.0), r.schedule().milestones(), name);
        assertEquals(8.0 / 255, r.attack().epsilon(), 1e-12, name);
        assertEquals(2.0 / 255, r.attack().stepSize(), 1e-12, name);
        assertEquals(10, r.attack().steps(), name);
        assertEquals("none", r.normalize(), name);
        assertEquals(4, r.data().augmentation().randomCropPadding(), name);
        assertTrue(r.data().augmentation().horizontalFlip(), name);
        boolean wrn = name.contains("wrn34-10");
        assertEquals(wrn ? "wrn-34-10" : "resnet18", r.architecture(), name);
        if ("arat".equals(r.method())) {
          assertEquals(wrn ? 100.0 : 30.0, r.arat().gamma(), name);
          assertEquals(null, r.arat().taps(), name + ": the architecture's taps of §1.3");
        }
        if ("trades".equals(r.method())) {
          assertEquals(6.0, r.trades().beta(), name);
        }
        assertEquals(name.endsWith("-arat-swa"), r.swa() != null, name);
        if (r.swa() != null) {
          assertEquals(76, r.swa().startEpoch(), name);
          assertEquals(500, r.swa().everySteps(), name);
        }
      }
    }
    // the four Fashion-MNIST recipes share one budget, data, seed and attack
    TrainingRecipe base = Builtins.recipe("fmnist-standard");
    for (String m : List.of("pgd-at", "trades", "arat")) {
      TrainingRecipe r = Builtins.recipe("fmnist-" + m);
      assertEquals(m, r.method());
      assertEquals(base.data(), r.data());
      assertEquals(base.seed(), r.seed());
      assertEquals(base.attack(), r.attack());
      assertEquals(base.epochs(), r.epochs());
      assertEquals(base.batchSize(), r.batchSize());
      assertEquals(base.optimizer(), r.optimizer());
      assertEquals(base.schedule(), r.schedule());
      assertEquals(base.evaluation(), r.evaluation());
    }
  }

  static final float[] MEAN = {0f, 0f, 0f};
  static final float[] STD = {1f, 1f, 1f};

  @Test
  void resnetsAndATinyWrnRunAtBatchTwoOnBothBranches() {
    for (ArchitectureSpec spec :
        List.of(
            Architectures.named("resnet18", 3, 32, 32, 10, MEAN, STD),
            Architectures.named("preact-resnet18", 3, 32, 32, 10, MEAN, STD),
            Architectures.named("wrn-10-1", 3, 32, 32, 10, MEAN, STD))) {
      try (NDManager m = NDManager.newBaseManager();
          SplitBnNetwork net =
              new SplitBnNetwork(
                  spec,
                  true,
                  spec.taps(),
                  0.25,
                  1,
                  m,
                  SplitBnNetwork.Init.forArchitecture(spec.name()))) {
        net.setTrainable(false);
        try (NDManager s = net.manager().newSubManager()) {
          NDArray x = s.randomUniform(0, 1, new Shape(2, 3, 32, 32));
          for (Branch b : Branch.values()) {
            SplitBnNetwork.Output o = net.forward(x, b, true, true);
            assertEquals(new Shape(2, 10), o.logits().getShape(), spec.name());
            assertEquals(spec.taps().size(), o.features().size(), spec.name());
            net.predict(spec.taps().get(0), o.features().get(spec.taps().get(0)));
          }
          assertEquals(
              new Shape(2, 10), net.forward(x, Branch.ADV, false, false).logits().getShape());
        }
      }
    }
  }

  @Test
  void wrn34x10SpecHasThePapersShapeWithoutAllocating() {
    ArchitectureSpec spec = Architectures.named("wrn-34-10", 3, 32, 32, 10, MEAN, STD);
    assertEquals(46_160_474L, trainable(spec.layers(), new long[] {3}));
    assertEquals(11, spec.taps().size());
    ArchitectureSpec r18 = Architectures.named("resnet18", 3, 32, 32, 10, MEAN, STD);
    assertEquals(11_173_962L, trainable(r18.layers(), new long[] {3}));
  }

  /** Trainable parameters with one BN set, walking the spec (c[0] = channels in, updated). */
  static long trainable(List<LayerSpec> layers, long[] c) {
    long n = 0;
    for (LayerSpec l : layers) {
      if (l instanceof LayerSpec.Conv conv) {
        n +=
            c[0] * conv.outChannels() * conv.kernel() * conv.kernel()
                + (conv.bias() ? conv.outChannels() : 0);
        c[0] = conv.outChannels();
      } else if (l instanceof LayerSpec.BatchNorm) {
        n += 2 * c[0];
      } else if (l instanceof LayerSpec.Linear lin) {
        n += c[0] * lin.outFeatures() + (lin.bias() ? lin.outFeatures() : 0);
        c[0] = lin.outFeatures();
      } else if (l instanceof LayerSpec.Residual r) {
        long in = c[0];
        n += trainable(r.pre(), c);
        long afterPre = c[0];
        n += trainable(r.body(), c);
        long out = c[0];
        c[0] = r.shortcutFromPre() ? afterPre : in;
        n += trainable(r.shortcut(), c);
        c[0] = out;
      }
    }
    return n;
  }
}
