package dev.arat.cli;

import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.specs.LossHead;
import dev.arat.specs.Npy;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code arat gradient}: runs the input-gradient graph of an ONNX classifier on NumPy inputs and
 * writes {@code logits.npy}, {@code losses.npy} and {@code input_grad.npy}.
 */
@Command(
    name = "gradient",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    description = {
      "Compute logits, per-sample losses and input gradients of an ONNX classifier.",
      "",
      "Builds the model's input-gradient graph for the chosen loss head (the head is maximised "
          + "by attacks; the gradient is that of the sum of the per-sample losses), runs it "
          + "once with ONNX Runtime and writes logits.npy (N,K) float32, losses.npy (N) "
          + "float32 and input_grad.npy (N,C,H,W) float32 into --out.",
      "Inputs: --input float32 (N,C,H,W) in [0,1]; --labels and --targets int64 or int32 (N)."
    })
final class GradientCommand implements Callable<Integer> {
  /** Output file names. */
  static final String LOGITS = "logits.npy";

  static final String LOSSES = "losses.npy";
  static final String GRAD = "input_grad.npy";

  @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The ONNX classifier.")
  Path model;

  @Option(
      names = "--input",
      required = true,
      paramLabel = "X.npy",
      description = "Images, float32 (N,C,H,W), C-order.")
  Path input;

  @Option(
      names = "--labels",
      required = true,
      paramLabel = "Y.npy",
      description = "True classes, int64 or int32 (N).")
  Path labels;

  @Option(
      names = "--loss",
      required = true,
      paramLabel = "HEAD",
      description = "Loss head: ce, ce-targeted, margin, dlr, dlr-targeted, logit-diff.")
  String loss;

  @Option(
      names = "--targets",
      paramLabel = "T.npy",
      description =
          "Target classes for ce-targeted, dlr-targeted and logit-diff, int64 or int32 (N).")
  Path targets;

  @Option(
      names = "--out",
      required = true,
      paramLabel = "DIR",
      description = "Folder for logits.npy, losses.npy and input_grad.npy (created if missing).")
  Path out;

  @Option(
      names = "--threads",
      defaultValue = "0",
      description = "ONNX Runtime intra-op threads (0 = all cores).")
  int threads;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    Output output = new Output(spec);
    LossHead head = LossHead.fromId(loss);
    if (head.targeted() && targets == null) {
      throw new IllegalArgumentException("--loss " + head.id() + " needs --targets T.npy");
    }
    if (!head.targeted() && targets != null) {
      throw new IllegalArgumentException(
          "--targets is only used by ce-targeted, dlr-targeted and logit-diff,"
              + " not by --loss "
              + head.id());
    }
    Npy.NpyArray x = Npy.read(input);
    if (x.dtype() != Npy.DType.FLOAT32 || x.shape().length != 4) {
      throw new IllegalArgumentException(
          "--input '"
              + input
              + "' must be a float32 array of"
              + " shape (N,C,H,W), is "
              + x.dtype()
              + " "
              + Arrays.toString(x.shape()));
    }
    long[] xs = x.shape();
    int n = Math.toIntExact(xs[0]);
    int[] y = classes(labels, "--labels", n);
    int[] t = head.targeted() ? classes(targets, "--targets", n) : null;
    try (OrtClassifier c = OrtClassifier.open(model, threads)) {
      if (xs[1] != c.channels() || xs[2] != c.height() || xs[3] != c.width()) {
        throw new IllegalArgumentException(
            "--input '"
                + input
                + "' has images of shape "
                + Arrays.toString(Arrays.copyOfRange(xs, 1, 4))
                + " (C,H,W); the model takes ["
                + c.channels()
                + ", "
                + c.height()
                + ", "
                + c.width()
                + "]");
      }
      int k = c.numClasses();
      checkRange(y, k, "--labels", labels);
      if (t != null) {
        checkRange(t, k, "--targets", targets);
      }
      LossGradient r =
          c.lossGradient(
              new ImageBatch(x.floats(), n, (int) xs[1], (int) xs[2], (int) xs[3]), y, t, head);
      Npy.writeFloat32(out.resolve(LOGITS), r.logits(), n, k);
      Npy.writeFloat32(out.resolve(LOSSES), r.losses(), n);
      Npy.writeFloat32(out.resolve(GRAD), r.gradient(), xs);
      PrintWriter pw = output.out();
      double mean = 0;
      for (float v : r.losses()) {
        mean += v / (double) n;
      }
      pw.printf("%d images, %d classes, loss %s: mean %.6g%n", n, k, head.id(), mean);
      for (var d : c.diagnostics()) {
        pw.println("  diagnostic: " + d.line());
      }
      pw.printf("wrote %s, %s, %s in %s%n", LOGITS, LOSSES, GRAD, out);
    }
    return ExitCodes.OK;
  }

  private static int[] classes(Path file, String option, int n) {
    Npy.NpyArray a = Npy.read(file);
    if (a.longs() == null || a.shape().length != 1) {
      throw new IllegalArgumentException(
          option
              + " '"
              + file
              + "' must be an int64 or int32"
              + " array of shape (N), is "
              + a.dtype()
              + " "
              + Arrays.toString(a.shape()));
    }
    if (a.shape()[0] != n) {
      throw new IllegalArgumentException(
          option
              + " '"
              + file
              + "' has "
              + a.shape()[0]
              + " entries, --input has "
              + n
              + " images");
    }
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      long v = a.longs()[i];
      if (v < 0 || v >= Integer.MAX_VALUE) {
        throw new IllegalArgumentException(
            option + " '" + file + "': entry " + i + " is " + v + ", not a class index");
      }
      out[i] = (int) v;
    }
    return out;
  }

  private static void checkRange(int[] c, int k, String option, Path file) {
    for (int i = 0; i < c.length; i++) {
      if (c[i] >= k) {
        throw new IllegalArgumentException(
            option
                + " '"
                + file
                + "': entry "
                + i
                + " is "
                + c[i]
                + ", the model has "
                + k
                + " classes [0,"
                + k
                + ")");
      }
    }
  }
}
