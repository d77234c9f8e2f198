package dev.arat.onnx.grad;

import static dev.arat.onnx.grad.GradientGraphBuilder.DLR_EPS;
import static dev.arat.onnx.grad.GradientGraphBuilder.LABELS;
import static dev.arat.onnx.grad.GradientGraphBuilder.LOSS;
import static dev.arat.onnx.grad.GradientGraphBuilder.TARGETS;

import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.specs.LossHead;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The loss heads of the gradient graph: each {@link LossHead}'s per-sample loss (the {@link
 * GradientGraphBuilder#LOSS} output, (N)) and its closed-form gradient with respect to the logits
 * (N,K). Ties in "the largest logit other than the label" and in the TopK order (DLR) go to the
 * lowest class index.
 */
final class LossHeads {
  private LossHeads() {}

  /** The fewest classes K the head is defined for. */
  static int minClasses(LossHead head) {
    return head == LossHead.DLR ? 3 : head == LossHead.DLR_TARGETED ? 4 : 2;
  }

  /**
   * Emits the head's loss as the {@link GradientGraphBuilder#LOSS} output.
   *
   * @param e the emitter of the gradient graph
   * @param head the loss head
   * @param z the logits tensor (N,K)
   * @param k the number of classes K, or -1 if not fixed
   * @return the name of the gradient of the summed loss with respect to {@code z}, (N,K)
   */
  static String emit(Emitter e, LossHead head, String z, int k) {
    GraphBuilder b = e.builder();
    String depth = k > 0 ? e.ivec(k) : b.node(Op.SHAPE, List.of(z), Map.of("start", 1, "end", 2));
    String onOff = b.floatInitializer("onehot_values", new float[] {0f, 1f}, 2);
    Function<String, String> oneHot =
        idx ->
            b.node(
                Op.ONE_HOT,
                List.of(e.op(Op.RESHAPE, idx, e.ivec(-1)), depth, onOff),
                Map.of("axis", -1));
    String y2 = e.op(Op.UNSQUEEZE, LABELS, e.ivec(1)); // (N,1)
    String hy = oneHot.apply(LABELS);
    String loss2; // (N,1)
    String dz;
    switch (head) {
      case CE, CE_TARGETED -> {
        String lsm = e.op(Op.LOG_SOFTMAX, Map.of("axis", 1), z);
        String p = e.op(Op.EXP, lsm);
        if (head == LossHead.CE) {
          loss2 = e.op(Op.NEG, gatherCols(e, lsm, y2));
          dz = e.op(Op.SUB, p, hy);
        } else {
          loss2 = gatherCols(e, lsm, e.op(Op.UNSQUEEZE, TARGETS, e.ivec(1)));
          dz = e.op(Op.SUB, oneHot.apply(TARGETS), p);
        }
      }
      case LOGIT_DIFF -> {
        String t2 = e.op(Op.UNSQUEEZE, TARGETS, e.ivec(1));
        loss2 = e.op(Op.SUB, gatherCols(e, z, t2), gatherCols(e, z, y2));
        dz = e.op(Op.SUB, oneHot.apply(TARGETS), hy);
      }
      case MARGIN -> {
        String o = maxOther(e, z, hy);
        loss2 = e.op(Op.SUB, gatherCols(e, z, o), gatherCols(e, z, y2));
        dz = e.op(Op.SUB, oneHot.apply(o), hy);
      }
      case DLR, DLR_TARGETED -> {
        boolean targeted = head == LossHead.DLR_TARGETED;
        List<String> top =
            b.node(
                Op.TOP_K,
                List.of(z, e.ivec(targeted ? 4 : 3)),
                Map.of("axis", 1, "largest", 1, "sorted", 1),
                2);
        String vals = top.get(0);
        String idx = top.get(1);
        String zy = gatherCols(e, z, y2);
        String other;
        String hOther;
        if (targeted) {
          String t2 = e.op(Op.UNSQUEEZE, TARGETS, e.ivec(1));
          other = gatherCols(e, z, t2);
          hOther = oneHot.apply(TARGETS);
        } else {
          String o = maxOther(e, z, hy);
          other = gatherCols(e, z, o);
          hOther = oneHot.apply(o);
        }
        String num = e.op(Op.SUB, zy, other); // (N,1)
        String p1 = column(e, vals, 0);
        String p3 = column(e, vals, 2);
        String den;
        String hDen; // d(den)/dz, (N,K)
        String h1 = oneHot.apply(column(e, idx, 0));
        String h3 = oneHot.apply(column(e, idx, 2));
        if (targeted) {
          String p4 = column(e, vals, 3);
          String h4 = oneHot.apply(column(e, idx, 3));
          den = e.op(Op.SUB, p1, e.op(Op.MUL, e.op(Op.ADD, p3, p4), e.fconst(0.5f)));
          hDen = e.op(Op.SUB, h1, e.op(Op.MUL, e.op(Op.ADD, h3, h4), e.fconst(0.5f)));
        } else {
          den = e.op(Op.SUB, p1, p3);
          hDen = e.op(Op.SUB, h1, h3);
        }
        den = e.op(Op.ADD, den, e.fconst(DLR_EPS));
        String ratio = e.op(Op.DIV, num, den);
        loss2 = e.op(Op.NEG, ratio);
        // L = -num/den:  dL = -(dnum)/den + (num/den^2) dden = (-1/den) dnum + (ratio/den) dden
        String a = e.op(Op.NEG, e.op(Op.RECIPROCAL, den));
        String c = e.op(Op.DIV, ratio, den);
        dz = e.op(Op.ADD, e.op(Op.MUL, a, e.op(Op.SUB, hy, hOther)), e.op(Op.MUL, c, hDen));
      }
      default -> throw new IllegalStateException(head.toString());
    }
    b.nodeTo(Op.SQUEEZE, List.of(loss2, e.ivec(1)), Map.of(), LOSS);
    return dz;
  }

  /** Column {@code j} of a (N,M) tensor as (N,1). */
  private static String column(Emitter e, String t, long j) {
    return e.builder().node(Op.GATHER, List.of(t, e.ivec(j)), Map.of("axis", 1));
  }

  /** Gathers z[n, idx[n,0]] as (N,1); idx is int64 (N,1). */
  private static String gatherCols(Emitter e, String z, String idx) {
    return e.builder().node(Op.GATHER_ELEMENTS, List.of(z, idx), Map.of("axis", 1));
  }

  /** The index (N,1) of the largest logit other than the label (lowest index on ties). */
  private static String maxOther(Emitter e, String z, String hy) {
    GraphBuilder b = e.builder();
    String mask = b.node(Op.CAST, List.of(hy), Map.of("to", Tensors.BOOL));
    String masked = e.op(Op.WHERE, mask, e.fconst(Float.NEGATIVE_INFINITY), z);
    return b.node(
        Op.ARG_MAX, List.of(masked), Map.of("axis", 1, "keepdims", 1, "select_last_index", 0));
  }
}
