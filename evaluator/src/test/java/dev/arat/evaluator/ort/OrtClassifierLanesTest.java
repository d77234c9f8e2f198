package dev.arat.evaluator.ort;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.evaluator.Fixtures;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.LossHead;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Gradient lanes (sessions that compute the parts of a gradient call's batch concurrently) do not
 * change a bit of the results: every head, batch sizes that do not divide evenly, fewer images than
 * parts, on models with convolutions, pooling, residual connections, depthwise convolutions,
 * attention and layer norms (as LayerNormalization ops and as the opset-14 export's
 * ReduceMean/Pow/Sqrt/Div) and a final softmax. And a sample gets the same bits in any batch.
 */
public class OrtClassifierLanesTest {
  static Stream<String> models() {
    return Stream.of(
        "../evaluator/src/test/resources/byo/reference.onnx",
        "../onnx/src/test/resources/fixtures/resnet/model.onnx",
        "../onnx/src/test/resources/fixtures/dwsep/model.onnx",
        "../onnx/src/test/resources/fixtures/vit/model.onnx",
        "../onnx/src/test/resources/fixtures/vit-opset14/model.onnx",
        "../onnx/src/test/resources/fixtures/attn-meanpool/model.onnx",
        "conv-relu-softmax");
  }

  private static OrtClassifier open(String model, RuntimeOptions runtime) {
    if (model.equals("conv-relu-softmax")) {
      return new OrtClassifier(
          Fixtures.onnx(Fixtures.syntheticNearestMean(), true, true), model, runtime);
    }
    return new OrtClassifier(OnnxModels.load(Path.of(model)), model, runtime);
  }

  @ParameterizedTest
  @MethodSource("models")
  void lanesGiveTheBitsOfOneSession(String model) {
    RuntimeOptions two = RuntimeOptions.cpu(2);
    try (OrtClassifier one = open(model, two.withGradientLanes(1));
        OrtClassifier lanes2 = open(model, two.withGradientLanes(2));
        OrtClassifier lanes4 = open(model, RuntimeOptions.cpu(4).withGradientLanes(4))) {
      assertEquals(1, one.gradientLanes());
      assertEquals(2, lanes2.gradientLanes());
      assertEquals(4, lanes4.gradientLanes());
      for (int n : new int[] {1, 3, 23}) {
        ImageBatch x = images(one, n, 17 + n);
        int[] labels = labels(n, one.numClasses(), 3);
        int[] targets = targets(labels, one.numClasses());
        for (LossHead head : LossHead.values()) {
          int[] t = head.targeted() ? targets : null;
          LossGradient want = one.lossGradient(x, labels, t, head);
          for (OrtClassifier split : List.of(lanes2, lanes4)) {
            LossGradient got = split.lossGradient(x, labels, t, head);
            String what = model + " " + head.id() + " n=" + n + " lanes=" + split.gradientLanes();
            assertArrayEquals(want.logits(), got.logits(), what + " logits");
            assertArrayEquals(want.losses(), got.losses(), what + " losses");
            assertArrayEquals(want.gradient(), got.gradient(), what + " gradient");
          }
        }
      }
    }
  }

  @Test
  void automaticLanesShareTheThreadsOnTheCpuOnly() {
    assertEquals(2, OrtSessions.gradientLanes(RuntimeOptions.cpu(2)));
    assertArrayEquals(new int[] {1, 1}, OrtSessions.laneThreads(RuntimeOptions.cpu(2)));
    assertEquals(2, OrtSessions.gradientLanes(RuntimeOptions.cpu(3)));
    assertEquals(1, OrtSessions.gradientLanes(RuntimeOptions.cpu(1)));
    assertEquals(4, OrtSessions.gradientLanes(RuntimeOptions.cpu(16)));
    assertArrayEquals(new int[] {4, 4, 4, 4}, OrtSessions.laneThreads(RuntimeOptions.cpu(16)));
    assertArrayEquals(new int[] {2, 1}, OrtSessions.laneThreads(RuntimeOptions.cpu(3)));
    assertArrayEquals(
        new int[] {4, 3}, OrtSessions.laneThreads(RuntimeOptions.cpu(7).withGradientLanes(2)));
    assertArrayEquals(
        new int[] {1, 1, 1, 1},
        OrtSessions.laneThreads(RuntimeOptions.cpu(2).withGradientLanes(4)));
    assertEquals(
        1,
        OrtSessions.gradientLanes(new RuntimeOptions(ExecutionProvider.CUDA, 0, 8, 0, 4)),
        "GPU sessions are not split");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> RuntimeOptions.cpu(8).withGradientLanes(3));
    assertEquals("gradient lanes: must be 1, 2 or 4 (or 0: automatic), was 3", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> RuntimeOptions.cpu(8).withGradientLanes(8));
  }

  /**
   * A sample gets the same logits, loss and gradient bits whatever batch it is in and wherever in
   * it: a 37-image call equals 37 one-image calls, forward and gradient. This is what makes a
   * shard, a recheck or another {@code batch_size} reproduce a run exactly. It failed on both ViTs
   * while the softmax and layer norm gradients summed their rows with ReduceSum, whose order
   * follows the row's alignment, and on the attention model with mean pooling while one image was
   * run alone (ORT's ReduceMean over the tokens takes another path for a batch of one). It also
   * checks that the cut and the copies put every row where it belongs (a test between lane counts
   * alone would miss an error that every lane count shares).
   */
  @ParameterizedTest
  @MethodSource("models")
  void aSampleGetsTheSameBitsInAnyBatch(String model) {
    try (OrtClassifier m = open(model, RuntimeOptions.cpu(2).withGradientLanes(2))) {
      int n = 37;
      ImageBatch x = images(m, n, 5);
      int k = m.numClasses();
      int per = m.channels() * m.height() * m.width();
      int[] labels = labels(n, k, 7);
      int[] targets = targets(labels, k);
      float[] forward = m.logits(x);
      for (int i = 0; i < n; i++) {
        assertArrayEquals(
            Arrays.copyOfRange(forward, i * k, (i + 1) * k),
            m.logits(image(m, x, i)),
            model + " forward logits, image " + i);
      }
      for (LossHead head : LossHead.values()) {
        LossGradient all = m.lossGradient(x, labels, head.targeted() ? targets : null, head);
        for (int i = 0; i < n; i++) {
          LossGradient g =
              m.lossGradient(
                  image(m, x, i),
                  new int[] {labels[i]},
                  head.targeted() ? new int[] {targets[i]} : null,
                  head);
          String what = model + " " + head.id() + " image " + i;
          assertArrayEquals(
              g.logits(), Arrays.copyOfRange(all.logits(), i * k, (i + 1) * k), what + " logits");
          assertEquals(g.losses()[0], all.losses()[i], what + " loss");
          assertArrayEquals(
              g.gradient(),
              Arrays.copyOfRange(all.gradient(), i * per, (i + 1) * per),
              what + " gradient");
        }
      }
    }
  }

  /** Image {@code i} of {@code x} alone. */
  private static ImageBatch image(OrtClassifier m, ImageBatch x, int i) {
    int per = x.imageSize();
    return new ImageBatch(
        Arrays.copyOfRange(x.data(), i * per, (i + 1) * per),
        1,
        m.channels(),
        m.height(),
        m.width());
  }

  @Test
  void lanesRunOnTheirOwnThreadsWhichCloseStops() throws InterruptedException {
    List<Thread> before = laneThreads(); // other tests' classifiers may still have theirs
    List<Thread> mine;
    OrtClassifier m =
        open(
            "../evaluator/src/test/resources/byo/reference.onnx",
            RuntimeOptions.cpu(2).withGradientLanes(2));
    try {
      ImageBatch x = images(m, 8, 1);
      m.lossGradient(x, new int[8], null, LossHead.CE);
      mine = laneThreads().stream().filter(t -> !before.contains(t)).toList();
      assertEquals(1, mine.size(), "one worker thread for lane 1: " + mine);
    } finally {
      m.close();
    }
    for (Thread t : mine) {
      t.join(10_000);
      assertFalse(t.isAlive(), "close() stops the lane workers");
    }
  }

  private static List<Thread> laneThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().startsWith("arat-gradient-lane-"))
        .toList();
  }

  @Test
  void aFixedBatchModelKeepsOneLane() {
    try (OrtClassifier m =
        open(
            "../evaluator/src/test/resources/byo/fixed-batch.onnx",
            RuntimeOptions.cpu(2).withGradientLanes(2))) {
      assertEquals(1, m.gradientLanes());
    }
  }

  /** Labels {@code step * i mod k}. */
  private static int[] labels(int n, int k, int step) {
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = (step * i) % k;
    }
    return labels;
  }

  /** A target other than each label, varying with the position. */
  private static int[] targets(int[] labels, int k) {
    int[] targets = new int[labels.length];
    for (int i = 0; i < labels.length; i++) {
      targets[i] = (labels[i] + 1 + i % (k - 1)) % k;
    }
    return targets;
  }

  private static ImageBatch images(OrtClassifier m, int n, long seed) {
    Random r = new Random(seed);
    float[] d = new float[n * m.channels() * m.height() * m.width()];
    for (int i = 0; i < d.length; i++) {
      d[i] = r.nextFloat();
    }
    return new ImageBatch(d, n, m.channels(), m.height(), m.width());
  }
}
