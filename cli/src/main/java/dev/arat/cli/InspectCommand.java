package dev.arat.cli;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.grad.GradientGraph;
import dev.arat.onnx.grad.GradientGraphBuilder;
import dev.arat.onnx.scan.GraphScan;
import dev.arat.specs.LossHead;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code arat inspect}: what an ONNX model is (inputs, outputs, metadata, opsets, op histogram) and
 * whether white-box attacks on it are possible and trustworthy; optionally a finite-difference
 * check of its input gradient.
 *
 * <p>Gradient check: for {@code --samples} seeded random images (uniform in [0,1]) and labels (the
 * predicted class), the CE and margin input gradients g are compared with central differences along
 * {@code --directions} unit directions v (the first along g itself, the others along g's direction
 * plus a random unit vector, normalised, so that the finite difference has a strong signal over
 * float32 noise): the error of one direction is {@code |g.v - fd| / max(|g.v|, |fd|, 1e-6)} with
 * {@code fd = (L(x+hv) - L(x-hv)) / 2h}, taken as the smaller over h = 1e-2 and h = 3e-3 (a ReLU
 * kink inside one step spoils one of them at most). The check fails, exit code 3, when the largest
 * error exceeds {@value #TOLERANCE}.
 */
@Command(
    name = "inspect",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    description = {
      "Describe an ONNX classifier and say whether white-box attacks on it are "
          + "possible and trustworthy.",
      "",
      "Prints inputs, outputs (names, types, shapes), metadata, opsets, IR version, producer "
          + "and an op histogram; builds the input-gradient graph to see whether white-box "
          + "attacks are possible, and scans the graph for gradient masking (random ops, "
          + "control flow, rounding, integer casts, quantisation, final Softmax).",
      "Exits 3 (ARAT-D017) when white-box attacks are not possible, 2 when arat cannot feed the "
          + "model images.",
      "With --gradient-check, compares the input gradient with finite differences on a few "
          + "seeded random inputs and exits 3 if the largest relative error exceeds "
          + InspectCommand.TOLERANCE
          + "."
    })
final class InspectCommand implements Callable<Integer> {
  /** The diagnostic code printed when white-box attacks are impossible (exit code 3). */
  static final String WHITE_BOX_IMPOSSIBLE = "ARAT-D017 white-box-impossible";

  /** The gradient-check tolerance on the largest directional relative error. */
  static final double TOLERANCE = 1e-2;

  @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The ONNX model.")
  Path model;

  @Option(
      names = "--gradient-check",
      description = "Check the input gradient against finite differences (exit 3 on failure).")
  boolean gradientCheck;

  @Option(
      names = "--samples",
      defaultValue = "2",
      description = "Random inputs for --gradient-check (default: ${DEFAULT-VALUE}).")
  int samples;

  @Option(
      names = "--directions",
      defaultValue = "6",
      description = "Random directions per input for --gradient-check (default: ${DEFAULT-VALUE}).")
  int directions;

  @Option(
      names = "--seed",
      defaultValue = "1",
      description = "Seed of the --gradient-check inputs (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(
      names = "--threads",
      defaultValue = "0",
      description = "ONNX Runtime intra-op threads (0 = all cores).")
  int threads;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    if (samples <= 0 || directions <= 0) {
      throw new IllegalArgumentException("--samples and --directions must be > 0");
    }
    PrintWriter out = new Output(spec).out();
    ModelProto m = OnnxModels.load(model);
    GraphProto g = m.getGraph();
    out.printf("model: %s%n", model);
    out.printf(
        "  ir_version %d, producer %s %s, graph '%s'%n",
        m.getIrVersion(),
        m.getProducerName().isEmpty() ? "(none)" : m.getProducerName(),
        m.getProducerVersion(),
        g.getName());
    List<String> opsets = new ArrayList<>();
    for (OperatorSetIdProto o : m.getOpsetImportList()) {
      opsets.add((o.getDomain().isEmpty() ? "ai.onnx" : o.getDomain()) + " " + o.getVersion());
    }
    out.printf("  opsets: %s%n", String.join(", ", opsets));
    out.println("inputs:");
    for (ValueInfoProto v : OnnxModels.dataInputs(g)) {
      out.printf("  %s: %s%n", v.getName(), typeText(v.getType()));
    }
    out.println("outputs:");
    for (ValueInfoProto v : g.getOutputList()) {
      out.printf("  %s: %s%n", v.getName(), typeText(v.getType()));
    }
    out.println("metadata:" + (m.getMetadataPropsCount() == 0 ? " (none)" : ""));
    for (StringStringEntryProto e : m.getMetadataPropsList()) {
      out.printf("  %s = %s%n", e.getKey(), e.getValue());
    }
    Map<String, Integer> hist = new TreeMap<>();
    for (NodeProto n : g.getNodeList()) {
      hist.merge(
          (n.getDomain().isEmpty() ? "" : n.getDomain() + ".") + n.getOpType(), 1, Integer::sum);
    }
    out.printf("ops: %d nodes, %d initializers%n", g.getNodeCount(), g.getInitializerCount());
    hist.entrySet().stream()
        .sorted(
            (a, b) ->
                a.getValue().equals(b.getValue())
                    ? a.getKey().compareTo(b.getKey())
                    : b.getValue() - a.getValue())
        .forEach(e -> out.printf("  %-24s %d%n", e.getKey(), e.getValue()));

    List<GraphScan.Finding> findings = GraphScan.scan(m);
    String unusable = null;
    String impossible = null;
    try (OrtClassifier c = OrtClassifier.open(model, threads)) {
      out.printf(
          "arat feeds: (N,%d,%d,%d) float32 pixels in [0,1]; model layout %s, batch %s%n",
          c.channels(),
          c.height(),
          c.width(),
          c.layout(),
          c.fixedBatch() > 0
              ? "fixed " + c.fixedBatch() + " (arat runs it in batches of " + c.fixedBatch() + ")"
              : "dynamic");
      for (String a : c.adaptations()) {
        out.println("  " + a);
      }
      impossible = c.whiteBoxImpossible();
    } catch (EvaluationException e) {
      if (e.kind() != EvaluationException.Kind.INPUT) {
        throw e;
      }
      unusable = e.getMessage();
    }
    GradientGraph gg = null;
    if (unusable != null) {
      out.println("input: NOT USABLE: " + unusable);
    } else if (impossible != null) {
      out.println(
          "white-box attacks: NOT POSSIBLE ("
              + WHITE_BOX_IMPOSSIBLE
              + ", docs/diagnostics.md#arat-d017)");
      out.println("  " + impossible);
      out.println(
          "  black-box attacks (square, transfer) can still certify it: a suite of those only, with"
              + " 'allow_black_box_only: true'");
    } else {
      gg = new GradientGraphBuilder().build(m, LossHead.CE);
      if (GraphScan.hasErrors(findings)) {
        out.println("white-box attacks: possible, but NOT TRUSTWORTHY (see the findings)");
      } else if (findings.stream().anyMatch(f -> f.code().equals(GraphScan.STRAIGHT_THROUGH))) {
        out.println(
            "white-box attacks: possible with STRAIGHT-THROUGH gradients through the"
                + " quantization (an estimate: trusted only next to Square and transfer attacks)");
      } else {
        out.println(
            "white-box attacks: possible (input-gradient graph built: logits '"
                + gg.logitsTensor()
                + "', "
                + (gg.numClasses() > 0 ? gg.numClasses() + " classes" : "classes not fixed")
                + ")");
      }
      for (GradientGraph.Note note : gg.notes()) {
        out.println("  note: " + note.message());
      }
    }
    out.println("findings:" + (findings.isEmpty() ? " none" : ""));
    for (GraphScan.Finding f : findings) {
      out.println("  " + f);
    }
    out.flush();
    if (unusable != null) {
      return ExitCodes.INPUT_ERROR;
    }
    if (impossible != null) {
      if (gradientCheck) {
        out.println("gradient check: not possible (no input gradient, see above)");
        out.flush();
      }
      return ExitCodes.UNTRUSTED;
    }
    if (!gradientCheck) {
      return ExitCodes.OK;
    }
    double worst = check(out);
    boolean ok = worst <= TOLERANCE;
    out.printf(
        "gradient check: max relative error %.3g over %d inputs x %d directions x 2 heads"
            + " (tolerance %.0e): %s%n",
        worst, samples, directions, TOLERANCE, ok ? "PASSED" : "FAILED");
    out.flush();
    return ok ? ExitCodes.OK : ExitCodes.UNTRUSTED;
  }

  /** Runs the finite-difference check and returns the largest directional relative error. */
  private double check(PrintWriter out) {
    double worst = 0;
    try (OrtClassifier c = OrtClassifier.open(model, threads)) {
      int size = c.channels() * c.height() * c.width();
      Random rnd = new Random(seed);
      float[] x = new float[samples * size];
      for (int i = 0; i < x.length; i++) {
        x[i] = 0.05f + 0.9f * rnd.nextFloat();
      }
      ImageBatch batch = new ImageBatch(x, samples, c.channels(), c.height(), c.width());
      int k = c.numClasses();
      float[] z0 = c.logits(batch);
      int[] labels = new int[samples];
      for (int s = 0; s < samples; s++) {
        int best = 0;
        for (int j = 1; j < k; j++) {
          best = z0[s * k + j] > z0[s * k + best] ? j : best;
        }
        labels[s] = best;
      }
      double[] steps = {1e-2, 3e-3};
      for (LossHead head : new LossHead[] {LossHead.CE, LossHead.MARGIN}) {
        LossGradient lg = c.lossGradient(batch, labels, null, head);
        // rows: for each sample, direction and step, x + h v and x - h v
        int rows = samples * directions * steps.length * 2;
        float[] probe = new float[rows * size];
        double[] gv = new double[samples * directions];
        double[][] hs = new double[samples * directions * steps.length][2];
        int r = 0;
        for (int s = 0; s < samples; s++) {
          for (int d = 0; d < directions; d++) {
            // v = the gradient's direction mixed with a random one (d = 0: the gradient's own):
            // a strong signal keeps float32 noise of the finite difference small
            double gnorm = 0;
            for (int i = 0; i < size; i++) {
              gnorm += (double) lg.gradient()[s * size + i] * lg.gradient()[s * size + i];
            }
            gnorm = Math.sqrt(gnorm);
            double[] v = new double[size];
            double rnorm = 0;
            double[] rv = new double[size];
            for (int i = 0; i < size; i++) {
              rv[i] = rnd.nextGaussian();
              rnorm += rv[i] * rv[i];
            }
            rnorm = Math.sqrt(rnorm);
            double norm = 0;
            for (int i = 0; i < size; i++) {
              double gi = gnorm > 0 ? lg.gradient()[s * size + i] / gnorm : 0;
              v[i] = gi + (d == 0 ? 0 : rv[i] / rnorm);
              norm += v[i] * v[i];
            }
            norm = Math.sqrt(norm);
            double dot = 0;
            for (int i = 0; i < size; i++) {
              v[i] /= norm;
              dot += v[i] * lg.gradient()[s * size + i];
            }
            gv[s * directions + d] = dot;
            for (int h = 0; h < steps.length; h++) {
              for (int sign = 0; sign < 2; sign++) {
                double step = sign == 0 ? steps[h] : -steps[h];
                double taken = 0;
                for (int i = 0; i < size; i++) {
                  float xv = x[s * size + i];
                  float p = (float) (xv + step * v[i]);
                  probe[r * size + i] = p;
                  taken += (p - (double) xv) * v[i];
                }
                hs[(s * directions + d) * steps.length + h][sign] = taken;
                r++;
              }
            }
          }
        }
        float[] zp = new float[rows * k];
        int chunk = 64;
        for (int from = 0; from < rows; from += chunk) {
          int cnt = Math.min(chunk, rows - from);
          float[] part = java.util.Arrays.copyOfRange(probe, from * size, (from + cnt) * size);
          float[] zz = c.logits(new ImageBatch(part, cnt, c.channels(), c.height(), c.width()));
          System.arraycopy(zz, 0, zp, from * k, cnt * k);
        }
        r = 0;
        double headWorst = 0;
        for (int s = 0; s < samples; s++) {
          for (int d = 0; d < directions; d++) {
            double best = Double.POSITIVE_INFINITY;
            for (int h = 0; h < steps.length; h++) {
              double lp = loss(head, zp, r++, k, labels[s]);
              double lm = loss(head, zp, r++, k, labels[s]);
              double[] taken = hs[(s * directions + d) * steps.length + h];
              double fd = (lp - lm) / (taken[0] - taken[1]);
              double dot = gv[s * directions + d];
              double err =
                  Math.abs(dot - fd) / Math.max(1e-6, Math.max(Math.abs(dot), Math.abs(fd)));
              best = Math.min(best, err);
            }
            headWorst = Math.max(headWorst, best);
          }
        }
        out.printf("  %-7s max directional relative error %.3g%n", head.id(), headWorst);
        worst = Math.max(worst, headWorst);
      }
    }
    return worst;
  }

  /** The head value of row {@code row} of logits {@code z}, in double. */
  private static double loss(LossHead head, float[] z, int row, int k, int y) {
    int off = row * k;
    if (head == LossHead.CE) {
      double mx = Double.NEGATIVE_INFINITY;
      for (int i = 0; i < k; i++) {
        mx = Math.max(mx, z[off + i]);
      }
      double sum = 0;
      for (int i = 0; i < k; i++) {
        sum += Math.exp(z[off + i] - mx);
      }
      return mx + Math.log(sum) - z[off + y];
    }
    double other = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < k; i++) {
      if (i != y) {
        other = Math.max(other, z[off + i]);
      }
    }
    return other - z[off + y];
  }

  private static String typeText(TypeProto t) {
    if (!t.hasTensorType()) {
      return t.getValueCase().toString().toLowerCase(java.util.Locale.ROOT);
    }
    TypeProto.Tensor tt = t.getTensorType();
    String type =
        TensorProto.DataType.forNumber(tt.getElemType()) == null
            ? "type " + tt.getElemType()
            : TensorProto.DataType.forNumber(tt.getElemType())
                .name()
                .toLowerCase(java.util.Locale.ROOT);
    if (!tt.hasShape()) {
      return type + " (shape not declared)";
    }
    List<String> dims = new ArrayList<>();
    for (TensorShapeProto.Dimension d : tt.getShape().getDimList()) {
      dims.add(
          d.hasDimValue()
              ? Long.toString(d.getDimValue())
              : d.hasDimParam() && !d.getDimParam().isEmpty() ? d.getDimParam() : "?");
    }
    return type + " (" + String.join(", ", dims) + ")";
  }
}
