package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Parameter counts, tap names and dimensions, and JSON round trips of the built-in architectures.
 */
class ArchitecturesTest {
  private static final float[] M3 = {0.5f, 0.5f, 0.5f};
  private static final float[] S3 = {0.25f, 0.25f, 0.25f};

  private static ArchitectureSpec cifar(String name) {
    return Architectures.named(name, 3, 32, 32, 10, M3, S3);
  }

  private static long bnLayers(ArchitectureSpec a) {
    return a.allLayers().stream().filter(l -> l instanceof LayerSpec.BatchNorm).count();
  }

  @Test
  void resnet18HasThePapersParameterCountAndTaps() {
    ArchitectureSpec a = cifar("resnet18");
    // The CIFAR ResNet-18 of the paper (kuangliu layout): conv weights + BN affine +
    // Linear(512,10).
    assertEquals(11_173_962L, a.trainableParameterCount(false));
    // 20 BN layers; the second BN set adds their affine parameters (9,600): "about 11.18M" (§4).
    assertEquals(20, bnLayers(a));
    assertEquals(11_173_962L + 9_600L, a.trainableParameterCount(true));
    assertEquals(List.of("layer4.0.bn1", "layer4.0.bn2", "layer4.1.bn1", "layer4.1.bn2"), a.taps());
    for (int d : a.tapFeatureSizes().values()) {
      assertEquals(512, d);
    }
    Map<String, long[]> w = a.weightShapes(true);
    assertEquals(List.of(128L, 64L, 1L, 1L), boxed(w.get("layer2.0.shortcut.0.weight")));
    assertTrue(w.containsKey("layer2.0.shortcut.1.clean.running_var"));
    assertFalse(w.containsKey("layer1.0.shortcut.0.weight"), "layer1 uses identity shortcuts");
    assertEquals(List.of(10L, 512L), boxed(w.get("linear.weight")));
    // the bn2 tap sits inside the residual body, before the skip addition
    LayerSpec.Residual block =
        (LayerSpec.Residual)
            a.layers().stream().filter(l -> l.name().equals("layer4.0")).findFirst().orElseThrow();
    assertEquals("layer4.0.bn2", block.body().get(block.body().size() - 1).name());
    assertEquals(100, Architectures.named("resnet18", 3, 32, 32, 100, M3, S3).numClasses());
  }

  @Test
  void wrn3410HasTheExpectedParameterCountAndElevenTaps() {
    ArchitectureSpec a = cifar("wrn-34-10");
    // n = (34-4)/6 = 5 blocks per group, widths 16/160/320/640, no conv bias, dropout 0:
    //   stem conv 3*16*9                                                  =        432
    //   group 1: block 0: bn 16 (32) + conv 16*160*9 (23,040) + bn 160 (320)
    //            + conv 160*160*9 (230,400) + 1x1 shortcut 16*160 (2,560)  =    256,352
    //            blocks 1-4: 4 * (320 + 230,400 + 320 + 230,400)           =  1,845,760
    //   group 2: block 0: 320 + 460,800 + 640 + 921,600 + 51,200           =  1,434,560
    //            blocks 1-4: 4 * (640 + 921,600 + 640 + 921,600)           =  7,377,920
    //   group 3: block 0: 640 + 1,843,200 + 1,280 + 3,686,400 + 204,800    =  5,736,320
    //            blocks 1-4: 4 * (1,280 + 3,686,400 + 1,280 + 3,686,400)   = 29,501,440
    //   final bn 640 (1,280) + fc 640*10 + 10 (6,410)                      =      7,690
    //   total                                                              = 46,160,474
    assertEquals(46_160_474L, a.trainableParameterCount(false));
    // 31 BN layers (11,216 channels): the second set adds 22,432 -> "about 46.18M" (§4).
    assertEquals(31, bnLayers(a));
    assertEquals(46_160_474L + 22_432L, a.trainableParameterCount(true));
    assertEquals(11, a.taps().size());
    Map<String, Integer> dims = a.tapFeatureSizes();
    assertEquals(320, dims.get("block3.layer.0.relu1"));
    for (int i = 0; i < 5; i++) {
      assertTrue(dims.containsKey("block3.layer." + i + ".relu1"));
      assertEquals(640, dims.get("block3.layer." + i + ".relu2"));
    }
    assertEquals(640, dims.get("avgpool"));
    assertEquals(
        List.of(640L, 320L, 1L, 1L),
        boxed(a.weightShapes(false).get("block3.layer.0.convShortcut.weight")));
    assertFalse(a.weightShapes(false).containsKey("block3.layer.1.convShortcut.weight"));
  }

  @Test
  void wrnFactoryAndNames() {
    assertEquals(36_479_194L, cifar("wrn-28-10").trainableParameterCount(false));
    ArchitectureSpec tiny = Architectures.wrn(10, 1, 3, 8, 8, 10, M3, S3);
    assertEquals("wrn-10-1", tiny.name());
    assertEquals(3, tiny.taps().size());
    assertTrue(Architectures.isKnown("wrn-10-1"));
    assertTrue(Architectures.isKnown("wrn-34-10"));
    assertFalse(Architectures.isKnown("wrn-11-1"));
    assertFalse(Architectures.isKnown("wrn-34-0"));
    assertFalse(Architectures.isKnown("resnet50"));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> Architectures.named("wrn-12-2", 3, 32, 32, 10, M3, S3));
    assertTrue(
        e.getMessage().contains("resnet18") && e.getMessage().contains("wrn-<depth>-<widen>"),
        e.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> Architectures.wrn(12, 1, 3, 32, 32, 10, M3, S3));
  }

  @Test
  void preactResnet18() {
    ArchitectureSpec a = cifar("preact-resnet18");
    // ResNet-18 minus its BN differences: no stem BN, bn1 at the block's input width, no shortcut
    // BN, plus a final BN(512): 11,173,962 - 9,600 + 7,808.
    assertEquals(11_172_170L, a.trainableParameterCount(false));
    assertEquals(List.of(256, 512, 512, 512, 512), List.copyOf(a.tapFeatureSizes().values()));
    LayerSpec.Residual proj =
        (LayerSpec.Residual)
            a.layers().stream().filter(l -> l.name().equals("layer2.0")).findFirst().orElseThrow();
    assertTrue(proj.shortcutFromPre());
    assertEquals("layer2.0.relu1", proj.pre().get(1).name());
    LayerSpec.Residual id =
        (LayerSpec.Residual)
            a.layers().stream().filter(l -> l.name().equals("layer2.1")).findFirst().orElseThrow();
    assertFalse(id.shortcutFromPre());
    assertTrue(id.shortcut().isEmpty());
  }

  @Test
  void specsRoundTripThroughJson() {
    for (ArchitectureSpec a :
        List.of(
            cifar("resnet18"),
            cifar("preact-resnet18"),
            Architectures.wrn(10, 2, 3, 16, 16, 10, M3, S3))) {
      String json = Specs.toJson(a);
      ArchitectureSpec b = Specs.parse(json, ArchitectureSpec.class, "architecture.json");
      assertEquals(a.layers(), b.layers());
      assertEquals(a.taps(), b.taps());
      assertEquals(json, Specs.toJson(b));
    }
    // plain residual units keep their old JSON form: no "pre", no "shortcut_from_pre"
    String plain = Specs.toJson(cifar("resnet18"));
    assertFalse(plain.contains("\"pre\""), plain.substring(0, 400));
    assertFalse(plain.contains("shortcut_from_pre"));
    assertTrue(Specs.toJson(cifar("preact-resnet18")).contains("\"shortcut_from_pre\" : true"));
  }

  @Test
  void oldResidualJsonStillReads() {
    String json =
        "{\"type\":\"residual\",\"name\":\"r\",\"body\":[{\"type\":\"relu\",\"name\":\"a\"}],"
            + "\"shortcut\":[]}";
    LayerSpec.Residual r = (LayerSpec.Residual) Specs.parse(json, LayerSpec.class, "layer.json");
    assertEquals(List.of(), r.pre());
    assertFalse(r.shortcutFromPre());
    assertEquals(new LayerSpec.Residual("r", List.of(new LayerSpec.Relu("a")), List.of()), r);
  }

  @Test
  void shapeMismatchNamesTheUnit() {
    LayerSpec.Residual bad =
        new LayerSpec.Residual(
            "bad", List.of(new LayerSpec.Conv("c", 8, 3, 2, 1, false)), List.of());
    ArchitectureSpec a =
        new ArchitectureSpec(
            "x",
            1,
            8,
            8,
            2,
            new float[] {0},
            new float[] {1},
            List.of(
                bad,
                new LayerSpec.GlobalAvgPool("g"),
                new LayerSpec.Flatten("f"),
                new LayerSpec.Linear("l", 2, true)),
            List.of(),
            1e-5,
            0.1);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> a.weightShapes(false));
    assertTrue(e.getMessage().startsWith("bad:"), e.getMessage());
  }

  private static List<Long> boxed(long[] v) {
    return java.util.Arrays.stream(v).boxed().toList();
  }
}
