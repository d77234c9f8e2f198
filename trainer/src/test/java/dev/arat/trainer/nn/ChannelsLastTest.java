package dev.arat.trainer.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Architectures;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import dev.arat.trainer.nn.SplitBnNetwork.Init;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The CPU's channels-last memory layout computes what NCHW computes: for every built-in
 * architecture family, logits, tap features, input gradients, every weight gradient and the BN
 * running statistics of a train-mode step agree between a channels-last and an NCHW network with
 * the same weights, to float rounding.
 *
 * <p>This is the test that catches a wrong engine kernel: with libtorch 2.7.1's own channels-last
 * 1×1 convolution instead of {@code pointwiseConv}, ResNet-18's 256→512 shortcut is off by about
 * half its magnitude.
 *
 * <p>Forward values (logits, features, weights, running statistics) must agree to 1e-4 of their
 * scale. Gradients are compared by cosine ({@code 1 - cos <= 1e-3}; measured at most 2e-5): a
 * rounding-level difference can put a pre-activation on the other side of a ReLU's kink, which
 * changes single gradient elements by several percent, correctly for both layouts (a finite
 * difference at such an element lands between the two), while a wrong kernel changes whole tensors.
 */
class ChannelsLastTest {
  private static final float[] MEAN = {0.49f, 0.48f, 0.45f};
  private static final float[] STD = {0.25f, 0.24f, 0.26f};

  @Test
  void resnet18MatchesNchw() {
    compare(Architectures.resnet18(3, 32, 32, 10, MEAN, STD), 4, Init.TORCH_DEFAULT);
  }

  @Test
  void preactResnet18MatchesNchw() {
    compare(Architectures.preactResnet18(3, 32, 32, 10, MEAN, STD), 4, Init.TORCH_DEFAULT);
  }

  @Test
  void wideResnetMatchesNchw() {
    // WRN-10-4: 1×1 shortcuts 16→64 (stride 1), 64→128 and 128→256 (stride 2)
    compare(Architectures.wrn(10, 4, 3, 32, 32, 10, MEAN, STD), 4, Init.WRN);
  }

  @Test
  void smallCnnOnOddSizesMatchesNchw() {
    // max pooling, a flatten of channels-last maps into a linear layer, a 28×28 input
    compare(
        Architectures.smallCnn(1, 28, 28, 10, new float[] {0.3f}, new float[] {0.3f}),
        3,
        Init.TORCH_DEFAULT);
  }

  @Test
  void theCpuLayoutIsChannelsLastAndReadsAreLogical() {
    ArchitectureSpec spec = Architectures.resnet18(3, 32, 32, 10, MEAN, STD);
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net = new SplitBnNetwork(spec, true, List.of(), 0, 7, m)) {
      assertTrue(net.channelsLast(), "CPU networks use channels-last");
      // weights round-trip through toTensors/load unchanged whatever their memory layout
      var before = net.toTensors();
      net.load(before);
      var after = net.toTensors();
      for (var e : before.entrySet()) {
        assertArrayEquals(e.getValue().data(), after.get(e.getKey()).data(), e.getKey());
      }
      // and NCHW and channels-last networks built with the same seed hold the same values
      try (SplitBnNetwork nchw =
          new SplitBnNetwork(spec, true, List.of(), 0, 7, m, Init.TORCH_DEFAULT, false)) {
        assertFalse(nchw.channelsLast());
        var plain = nchw.toTensors();
        for (var e : before.entrySet()) {
          assertArrayEquals(e.getValue().data(), plain.get(e.getKey()).data(), e.getKey());
        }
      }
    }
  }

  @Test
  void theCheckFindsExactlyTheDisagreementsTheEngineHas() {
    // libtorch 2.7.1's channels-last 1×1 kernel: wrong on AVX-512 CPUs such as this project's
    ChannelsLastCheck.Geometry oneByOne = new ChannelsLastCheck.Geometry(256, 8, 8, 512, 1, 2, 0);
    try (NDManager m = NDManager.newBaseManager()) {
      // an independent look at the same kernel: batch 4, other data, forward only
      SplittableRandom r = new SplittableRandom(5);
      float[] xs = new float[4 * 256 * 8 * 8];
      float[] ws = new float[512 * 256];
      for (int i = 0; i < xs.length; i++) {
        xs[i] = (float) r.nextDouble();
      }
      for (int i = 0; i < ws.length; i++) {
        ws[i] = (float) (r.nextDouble() - 0.5) / 8;
      }
      NDArray x = m.create(xs, new Shape(4, 256, 8, 8));
      NDArray w = m.create(ws, new Shape(512, 256, 1, 1));
      NDArray a =
          Conv2d.conv2d(x, w, null, new Shape(2, 2), new Shape(0, 0), new Shape(1, 1), 1)
              .singletonOrThrow();
      NDArray b =
          Conv2d.conv2d(
                  ChannelsLast.convert(x),
                  w,
                  null,
                  new Shape(2, 2),
                  new Shape(0, 0),
                  new Shape(1, 1),
                  1)
              .singletonOrThrow();
      boolean engineWrong = a.sub(b).abs().max().getFloat() > 1e-2f * a.abs().max().getFloat();
      System.out.println("libtorch channels-last 1x1 kernel wrong on this machine: " + engineWrong);
      assertEquals(
          engineWrong ? oneByOne : null, ChannelsLastCheck.firstDisagreement(List.of(oneByOne), m));
      // every spatial convolution of the built-in architectures passes here
      for (ArchitectureSpec spec :
          List.of(
              Architectures.resnet18(3, 32, 32, 10, MEAN, STD),
              Architectures.wrn(16, 4, 3, 32, 32, 10, MEAN, STD))) {
        try (SplitBnNetwork net = new SplitBnNetwork(spec, true, List.of(), 0, 1, m)) {
          assertTrue(net.channelsLast(), spec.name());
        }
      }
    }
  }

  @Test
  void aConvolutionTheEngineGetsWrongMakesTheNetworkUseNchw() {
    ArchitectureSpec spec =
        Architectures.smallCnn(1, 28, 28, 10, new float[] {0.3f}, new float[] {0.3f});
    ChannelsLastCheck.Geometry conv1 = new ChannelsLastCheck.Geometry(1, 28, 28, 32, 5, 1, 2);
    ChannelsLastCheck.VERIFIED.put(conv1, false); // as if libtorch had got it wrong
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork planted = new SplitBnNetwork(spec, true, List.of(), 0, 3, m);
        SplitBnNetwork nchw =
            new SplitBnNetwork(spec, true, List.of(), 0, 3, m, Init.TORCH_DEFAULT, false)) {
      assertFalse(planted.channelsLast());
      var a = planted.toTensors();
      var b = nchw.toTensors();
      for (var e : a.entrySet()) {
        assertArrayEquals(b.get(e.getKey()).data(), e.getValue().data(), e.getKey());
      }
      try (NDManager s = planted.manager().newSubManager()) {
        NDArray x = s.randomUniform(0, 1, new Shape(2, 1, 28, 28));
        assertArrayEquals(
            nchw.forward(x, Branch.ADV, false, false).logits().toFloatArray(),
            planted.forward(x, Branch.ADV, false, false).logits().toFloatArray());
      }
    } finally {
      ChannelsLastCheck.VERIFIED.remove(conv1);
    }
  }

  private static void compare(ArchitectureSpec spec, int n, Init init) {
    try (NDManager m = NDManager.newBaseManager()) {
      float[] x = new float[n * spec.channels() * spec.height() * spec.width()];
      SplittableRandom r = new SplittableRandom(3);
      for (int i = 0; i < x.length; i++) {
        x[i] = (float) r.nextDouble();
      }
      int[] labels = new int[n];
      for (int i = 0; i < n; i++) {
        labels[i] = i % spec.numClasses();
      }
      Map<String, float[]> nchw = step(spec, init, false, m, x, labels);
      Map<String, float[]> cl = step(spec, init, true, m, x, labels);
      assertEquals(nchw.keySet(), cl.keySet());
      for (String k : nchw.keySet()) {
        float[] a = nchw.get(k);
        float[] b = cl.get(k);
        assertEquals(a.length, b.length, k);
        double scale = 0;
        double diff = 0;
        double dot = 0;
        double normA = 0;
        double normB = 0;
        for (int i = 0; i < a.length; i++) {
          scale = Math.max(scale, Math.abs(a[i]));
          diff = Math.max(diff, Math.abs(a[i] - b[i]));
          dot += (double) a[i] * b[i];
          normA += (double) a[i] * a[i];
          normB += (double) b[i] * b[i];
        }
        String what = spec.name() + " " + k + ": channels-last differs from NCHW";
        if (k.contains("gradient")) {
          double cosine = normA == 0 && normB == 0 ? 1 : dot / Math.sqrt(normA * normB);
          assertTrue(
              1 - cosine <= 1e-3,
              what
                  + ": 1 - cosine "
                  + (1 - cosine)
                  + " (max difference "
                  + diff
                  + " at scale "
                  + scale
                  + ")");
        } else {
          assertTrue(diff <= 1e-4 * scale + 1e-6, what + " by " + diff + " at scale " + scale);
        }
      }
    }
  }

  /**
   * One train-mode forward of the adv branch with tap features, a loss mixing the logits and the
   * features, its backward; then an eval-mode forward of the clean branch. Returns everything by
   * name.
   */
  private static Map<String, float[]> step(
      ArchitectureSpec spec,
      Init init,
      boolean channelsLast,
      NDManager m,
      float[] pixels,
      int[] labels) {
    Map<String, float[]> out = new LinkedHashMap<>();
    try (SplitBnNetwork net =
            new SplitBnNetwork(spec, true, spec.taps(), 0.25, 11, m, init, channelsLast);
        NDManager step = net.manager().newSubManager()) {
      assertEquals(channelsLast, net.channelsLast());
      int n = labels.length;
      NDArray x = step.create(pixels, new Shape(n, spec.channels(), spec.height(), spec.width()));
      x.setRequiresGradient(true);
      try (Autograd gc = Autograd.record()) {
        SplitBnNetwork.Output o = net.forward(x, Branch.ADV, true, true);
        NDArray loss =
            o.logits().logSoftmax(1).mul(step.create(labels).oneHot(spec.numClasses())).sum().neg();
        for (Map.Entry<String, NDArray> f : o.features().entrySet()) {
          loss = loss.add(f.getValue().square().mean().mul(0.1f));
          out.put("feature " + f.getKey(), f.getValue().toFloatArray());
        }
        out.put("train logits", o.logits().toFloatArray());
        gc.backward(loss);
      }
      out.put("input gradient", x.getGradient().toFloatArray());
      for (Map.Entry<String, NDArray> p : net.parameters().entrySet()) {
        if (p.getValue().hasGradient()) {
          out.put("gradient " + p.getKey(), p.getValue().getGradient().toFloatArray());
        }
        out.put("value " + p.getKey(), p.getValue().toFloatArray());
      }
      NDArray y = step.create(pixels, new Shape(n, spec.channels(), spec.height(), spec.width()));
      out.put("eval logits", net.forward(y, Branch.CLEAN, false, false).logits().toFloatArray());
      assertTrue(
          out.keySet().stream().anyMatch(k -> k.startsWith("gradient ")),
          "no weight gradients: " + Arrays.toString(out.keySet().toArray()));
    }
    return out;
  }
}
