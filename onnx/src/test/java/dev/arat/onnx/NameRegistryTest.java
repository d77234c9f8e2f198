package dev.arat.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class NameRegistryTest {
  @Test
  void freshNamesSkipUsedOnesWithNumberedSuffixes() {
    NameRegistry r = new NameRegistry();
    r.addAll(List.of("x", "x_1"));
    assertEquals("x_2", r.unused("x"));
    assertFalse(r.contains("x_2"), "unused does not mark the name");
    assertEquals("x_2", r.fresh("x"));
    assertTrue(r.contains("x_2"));
    assertEquals("x_3", r.fresh("x"));
    assertEquals("y", r.fresh("y"));
    assertFalse(r.add("y"));
  }
}
