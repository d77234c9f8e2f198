package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.specs.ActivationShape.Flat;
import dev.arat.specs.ActivationShape.Spatial;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The output-shape formulas of {@link LayerSpec#outputShape}, the one place that holds them. */
class LayerShapeTest {
  private static final Spatial IN = new Spatial(3, 32, 32);

  @Test
  void convolutionUsesPaddingKernelAndStride() {
    assertEquals(
        new Spatial(16, 32, 32), new LayerSpec.Conv("c", 16, 3, 1, 1, false).outputShape(IN));
    assertEquals(new Spatial(8, 16, 16), new LayerSpec.Conv("c", 8, 3, 2, 1, true).outputShape(IN));
    assertEquals(new Spatial(4, 28, 28), new LayerSpec.Conv("c", 4, 5, 1, 0, true).outputShape(IN));
    assertEquals(new Spatial(4, 15, 15), new LayerSpec.Conv("c", 4, 3, 2, 0, true).outputShape(IN));
  }

  @Test
  void poolingFlattenAndLinear() {
    assertEquals(new Spatial(3, 16, 16), new LayerSpec.MaxPool("p", 2, 2).outputShape(IN));
    assertEquals(new Spatial(3, 15, 15), new LayerSpec.MaxPool("p", 3, 2).outputShape(IN));
    assertEquals(new Spatial(3, 1, 1), new LayerSpec.GlobalAvgPool("g").outputShape(IN));
    assertEquals(new Flat(3072), new LayerSpec.Flatten("f").outputShape(IN));
    assertEquals(new Flat(7), new LayerSpec.Flatten("f").outputShape(new Flat(7)));
    assertEquals(new Flat(10), new LayerSpec.Linear("l", 10, true).outputShape(new Flat(7)));
    assertEquals(IN, new LayerSpec.BatchNorm("b").outputShape(IN));
    assertEquals(IN, new LayerSpec.Relu("r").outputShape(IN));
    assertEquals(7, new Flat(7).channels());
  }

  @Test
  void inputsThatDoNotFitNameTheLayer() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new LayerSpec.Linear("fc", 10, true).outputShape(IN));
    assertTrue(e.getMessage().startsWith("fc: "), e.getMessage());
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new LayerSpec.Conv("c9", 4, 9, 1, 0, true).outputShape(new Spatial(1, 4, 4)));
    assertTrue(e.getMessage().startsWith("c9: ") && e.getMessage().contains("too small"));
    e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new LayerSpec.MaxPool("mp", 2, 2).outputShape(new Flat(4)));
    assertTrue(e.getMessage().startsWith("mp: "), e.getMessage());
  }

  @Test
  void residualChecksThatItsBranchesAgree() {
    LayerSpec.Residual same =
        new LayerSpec.Residual("u", List.of(new LayerSpec.Conv("a", 3, 3, 1, 1, false)), List.of());
    assertEquals(IN, same.outputShape(IN));
    LayerSpec.Residual down =
        new LayerSpec.Residual(
            "d",
            List.of(new LayerSpec.Conv("a", 8, 3, 2, 1, false)),
            List.of(new LayerSpec.Conv("s", 8, 1, 2, 0, false)));
    assertEquals(new Spatial(8, 16, 16), down.outputShape(IN));
    LayerSpec.Residual bad =
        new LayerSpec.Residual(
            "bad", List.of(new LayerSpec.Conv("a", 8, 3, 2, 1, false)), List.of());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> bad.outputShape(IN));
    assertTrue(e.getMessage().startsWith("bad: "), e.getMessage());
  }

  @Test
  void aListOfLayersChainsTheShapes() {
    ArchitectureSpec a =
        Architectures.resnet18(3, 32, 32, 10, new float[] {0, 0, 0}, new float[] {1, 1, 1});
    assertEquals(new Flat(10), LayerSpec.outputShape(a.layers(), a.inputShape()));
    assertSame(IN, LayerSpec.outputShape(List.of(), IN));
  }
}
