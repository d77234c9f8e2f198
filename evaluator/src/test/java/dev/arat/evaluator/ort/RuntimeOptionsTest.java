package dev.arat.evaluator.ort;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.attack.ImageBatch;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.Fixtures;
import dev.arat.evaluator.Shard;
import org.junit.jupiter.api.Test;

/** Execution providers, threading options and shard arithmetic. */
class RuntimeOptionsTest {
  @Test
  void cudaFailsClearlyOnACpuBuild() {
    for (ExecutionProvider p :
        new ExecutionProvider[] {ExecutionProvider.CUDA, ExecutionProvider.TENSORRT}) {
      EvaluationException e =
          assertThrows(
              EvaluationException.class,
              () ->
                  new OrtClassifier(
                      Fixtures.onnx(Fixtures.syntheticNearestMean(), false, false),
                      "fixture",
                      new RuntimeOptions(p, 0, 1, 0)));
      assertEquals(EvaluationException.Kind.INPUT, e.kind());
      assertTrue(
          e.getMessage().contains("'" + p.id() + "'")
              && e.getMessage().contains("-Darat.gpu")
              && e.getMessage().contains("--provider cpu"),
          e.getMessage());
    }
  }

  @Test
  void threadingOptionsDoNotChangeResults() {
    ImageBatch x = OrtEndToEndTest.someImages(4);
    try (OrtClassifier a =
            new OrtClassifier(
                Fixtures.onnx(Fixtures.syntheticNearestMean(), true, false),
                "a",
                RuntimeOptions.cpu(1));
        OrtClassifier b =
            new OrtClassifier(
                Fixtures.onnx(Fixtures.syntheticNearestMean(), true, false),
                "b",
                new RuntimeOptions(ExecutionProvider.CPU, 0, 2, 2))) {
      assertArrayEquals(a.logits(x), b.logits(x), 1e-5f);
      assertEquals(ExecutionProvider.CPU, b.provider());
    }
  }

  @Test
  void providerAndShardParsing() {
    assertEquals(ExecutionProvider.TENSORRT, ExecutionProvider.parse("TensorRT"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ExecutionProvider.parse("rocm"));
    assertTrue(e.getMessage().contains("cpu, cuda or tensorrt"), e.getMessage());
    assertEquals(new Shard(2, 4), Shard.parse(" 2/4 "));
    for (String bad : new String[] {"0/3", "4/3", "1-2", "", "a/b"}) {
      IllegalArgumentException s =
          assertThrows(IllegalArgumentException.class, () -> Shard.parse(bad));
      assertTrue(
          s.getMessage().startsWith("--shard") || s.getMessage().startsWith("shard"),
          s.getMessage());
    }
    Shard s = new Shard(2, 3);
    assertArrayEquals(new int[] {1, 4, 7}, s.positions(9));
    assertArrayEquals(new int[] {1, 4, 7}, s.positions(8));
    assertArrayEquals(new int[] {}, new Shard(3, 3).positions(2));
    int covered = 0;
    for (int k = 1; k <= 3; k++) {
      for (int p : new Shard(k, 3).positions(10)) {
        assertTrue(new Shard(k, 3).contains(p));
        covered++;
      }
    }
    assertEquals(10, covered);
  }
}
