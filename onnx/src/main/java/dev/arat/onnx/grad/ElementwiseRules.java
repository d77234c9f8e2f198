package dev.arat.onnx.grad;

import static dev.arat.onnx.GraphIndex.floatAttr;
import static dev.arat.onnx.GraphIndex.intAttr;
import static dev.arat.onnx.GraphIndex.stringAttr;
import static dev.arat.onnx.grad.GradientRules.unsupportedConfig;

import ai.onnx.proto.OnnxMl.NodeProto;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import java.util.List;
import java.util.Map;

/**
 * Gradient rules of the elementwise ops (arithmetic with numpy broadcasting, Pow, Where, Cast), the
 * activations (Relu family, Clip, Sigmoid, Tanh, hard sigmoid/swish, Gelu, Erf, Softmax,
 * LogSoftmax) and the reductions ReduceSum/ReduceMean. Conventions at kinks: see {@link
 * GradientGraphBuilder}.
 */
final class ElementwiseRules {
  static void register(GradientRules.Table t) {
    t.add(ElementwiseRules::elementwise, "Add", "Sub", "Mul", "Div", "Sum");
    t.add(ElementwiseRules::pow, "Pow");
    t.add(ElementwiseRules::where, "Where");
    t.add(ElementwiseRules::cast, "Cast");
    t.add(ElementwiseRules::neg, "Neg");
    t.add(ElementwiseRules::exp, "Exp");
    t.add(ElementwiseRules::log, "Log");
    t.add(ElementwiseRules::sqrt, "Sqrt");
    t.add(ElementwiseRules::reciprocal, "Reciprocal");
    t.add(ElementwiseRules::abs, "Abs");
    t.add(ElementwiseRules::erf, "Erf");
    t.add(ElementwiseRules::relu, "Relu");
    t.add(ElementwiseRules::leakyRelu, "LeakyRelu");
    t.add(ElementwiseRules::prelu, "PRelu");
    t.add(ElementwiseRules::clip, "Clip");
    t.add(ElementwiseRules::sigmoid, "Sigmoid");
    t.add(ElementwiseRules::tanh, "Tanh");
    t.add(ElementwiseRules::hardSigmoid, "HardSigmoid");
    t.add(ElementwiseRules::hardSwish, "HardSwish");
    t.add(ElementwiseRules::gelu, "Gelu");
    t.add(ElementwiseRules::softmax, "Softmax");
    t.add(ElementwiseRules::logSoftmax, "LogSoftmax");
    t.add(ElementwiseRules::reduce, "ReduceSum", "ReduceMean");
  }

  private ElementwiseRules() {}

  static void elementwise(GradientRun run, NodeProto n, String dy) {
    long[] ys = run.shapes().shape(n.getOutput(0));
    String op = n.getOpType();
    for (int i = 0; i < n.getInputCount(); i++) {
      String in = n.getInput(i);
      if (!run.dep(in)) {
        continue;
      }
      String gi;
      switch (op) {
        case "Add", "Sum" -> gi = dy;
        case "Sub" -> gi = i == 0 ? dy : run.op(Op.NEG, dy);
        case "Mul" -> gi = run.op(Op.MUL, dy, n.getInput(1 - i));
        case "Div" ->
            gi =
                i == 0
                    ? run.op(Op.DIV, dy, n.getInput(1))
                    : run.op(
                        Op.NEG, run.op(Op.DIV, run.op(Op.MUL, dy, n.getOutput(0)), n.getInput(1)));
        default -> throw new IllegalStateException(op);
      }
      run.addGrad(in, run.unbroadcast(gi, ys, in, n));
    }
  }

  static void pow(GradientRun run, NodeProto n, String dy) {
    String a = n.getInput(0);
    String e = n.getInput(1);
    long[] ys = run.shapes().shape(n.getOutput(0));
    String ef = run.b().node(Op.CAST, List.of(e), Map.of("to", Tensors.FLOAT));
    if (run.dep(a)) {
      String ga =
          run.op(
              Op.MUL,
              dy,
              run.op(Op.MUL, ef, run.op(Op.POW, a, run.op(Op.SUB, ef, run.fconst(1f)))));
      run.addGrad(a, run.unbroadcast(ga, ys, a, n));
    }
    if (run.dep(e)) {
      String ge = run.op(Op.MUL, dy, run.op(Op.MUL, n.getOutput(0), run.op(Op.LOG, a)));
      run.addGrad(e, run.unbroadcast(ge, ys, e, n));
    }
  }

  static void where(GradientRun run, NodeProto n, String dy) {
    String y = n.getOutput(0);
    long[] ys = run.shapes().shape(y);
    String c = n.getInput(0);
    if (run.dep(n.getInput(1))) {
      run.addGrad(
          n.getInput(1),
          run.unbroadcast(run.op(Op.WHERE, c, dy, run.fconst(0f)), ys, n.getInput(1), n));
    }
    if (run.dep(n.getInput(2))) {
      run.addGrad(
          n.getInput(2),
          run.unbroadcast(run.op(Op.WHERE, c, run.fconst(0f), dy), ys, n.getInput(2), n));
    }
  }

  static void cast(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    if (intAttr(n, "to", 0) != Tensors.FLOAT) {
      throw unsupportedConfig(
          n,
          "only Cast to float32 is differentiated on the path from"
              + " the input to the logits (to="
              + intAttr(n, "to", 0)
              + ")");
    }
    run.addGrad(x, dy);
  }

  static void neg(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.addGrad(x, run.op(Op.NEG, dy));
  }

  static void exp(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    run.addGrad(x, run.op(Op.MUL, dy, y));
  }

  static void log(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.addGrad(x, run.op(Op.DIV, dy, x));
  }

  static void sqrt(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    run.addGrad(x, run.op(Op.DIV, run.op(Op.MUL, dy, run.fconst(0.5f)), y));
  }

  static void reciprocal(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    run.addGrad(x, run.op(Op.NEG, run.op(Op.MUL, dy, run.op(Op.MUL, y, y))));
  }

  static void abs(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.addGrad(x, run.op(Op.MUL, dy, run.op(Op.SIGN, x)));
  }

  static void erf(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.addGrad(
        x,
        run.op(
            Op.MUL,
            dy,
            run.op(
                Op.MUL,
                run.fconst((float) (2 / Math.sqrt(Math.PI))),
                run.op(Op.EXP, run.op(Op.NEG, run.op(Op.MUL, x, x))))));
  }

  static void relu(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    if (run.premasked(y)) {
      run.addGrad(x, dy); // the mask was applied by the MaxPool after it
    } else {
      // mask from the output: y > 0 iff x > 0, and as y >= 0, Sign(y) is that 0/1 mask
      // (Mul+Sign is cheaper in ORT than Where+Greater, and not reading x lets ORT fuse
      // the Relu into the Conv before it)
      run.addGrad(x, run.op(Op.MUL, dy, run.op(Op.SIGN, y)));
    }
  }

  static void leakyRelu(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    float alpha = floatAttr(n, "alpha", 0.01f);
    run.addGrad(
        x,
        run.op(
            Op.WHERE,
            run.op(Op.GREATER, x, run.fconst(0f)),
            dy,
            run.op(Op.MUL, dy, run.fconst(alpha))));
  }

  static void prelu(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.requireConstant(n, 1);
    run.addGrad(
        x,
        run.op(
            Op.WHERE,
            run.op(Op.GREATER, x, run.fconst(0f)),
            dy,
            run.op(Op.MUL, dy, n.getInput(1))));
  }

  static void clip(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.requireConstant(n, 1, 2);
    String mask = null;
    if (n.getInputCount() > 1 && !n.getInput(1).isEmpty()) {
      mask = run.op(Op.GREATER, x, n.getInput(1));
    }
    if (n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
      String hi = run.op(Op.LESS, x, n.getInput(2));
      mask = mask == null ? hi : run.op(Op.AND, mask, hi);
    }
    run.addGrad(x, mask == null ? dy : run.op(Op.WHERE, mask, dy, run.fconst(0f)));
  }

  static void sigmoid(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    run.addGrad(x, run.op(Op.MUL, dy, run.op(Op.MUL, y, run.op(Op.SUB, run.fconst(1f), y))));
  }

  static void tanh(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    run.addGrad(x, run.op(Op.MUL, dy, run.op(Op.SUB, run.fconst(1f), run.op(Op.MUL, y, y))));
  }

  static void hardSigmoid(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    float alpha = floatAttr(n, "alpha", 0.2f);
    float beta = floatAttr(n, "beta", 0.5f);
    String v = run.op(Op.ADD, run.op(Op.MUL, x, run.fconst(alpha)), run.fconst(beta));
    String mask =
        run.op(Op.AND, run.op(Op.GREATER, v, run.fconst(0f)), run.op(Op.LESS, v, run.fconst(1f)));
    run.addGrad(x, run.op(Op.WHERE, mask, run.op(Op.MUL, dy, run.fconst(alpha)), run.fconst(0f)));
  }

  static void hardSwish(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    // d/dx x*hardsigmoid(x) = 0 below -3, x/3 + 1/2 on [-3, 3], 1 above (as PyTorch)
    String mid =
        run.op(Op.MUL, dy, run.op(Op.ADD, run.op(Op.MUL, x, run.fconst(1f / 3)), run.fconst(0.5f)));
    run.addGrad(
        x,
        run.op(
            Op.WHERE,
            run.op(Op.LESS, x, run.fconst(-3f)),
            run.fconst(0f),
            run.op(Op.WHERE, run.op(Op.LESS_OR_EQUAL, x, run.fconst(3f)), mid, dy)));
  }

  static void gelu(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    String mode = stringAttr(n, "approximate", "none");
    String d;
    if (mode.equals("tanh")) {
      // y = x/2 (1 + tanh u), u = c (x + 0.044715 x^3), c = sqrt(2/pi)
      float c = (float) Math.sqrt(2 / Math.PI);
      String x2 = run.op(Op.MUL, x, x);
      String u =
          run.op(
              Op.MUL,
              run.op(
                  Op.MUL,
                  x,
                  run.op(Op.ADD, run.fconst(1f), run.op(Op.MUL, x2, run.fconst(0.044715f)))),
              run.fconst(c));
      String t = run.op(Op.TANH, u);
      String du =
          run.op(
              Op.MUL,
              run.op(Op.ADD, run.fconst(1f), run.op(Op.MUL, x2, run.fconst(3 * 0.044715f))),
              run.fconst(c));
      d =
          run.op(
              Op.ADD,
              run.op(Op.MUL, run.op(Op.ADD, run.fconst(1f), t), run.fconst(0.5f)),
              run.op(
                  Op.MUL,
                  run.op(
                      Op.MUL,
                      run.op(Op.MUL, x, run.fconst(0.5f)),
                      run.op(Op.SUB, run.fconst(1f), run.op(Op.MUL, t, t))),
                  du));
    } else if (mode.equals("none")) {
      // Phi(x) + x phi(x)
      String cdf =
          run.op(
              Op.MUL,
              run.op(
                  Op.ADD,
                  run.fconst(1f),
                  run.op(Op.ERF, run.op(Op.MUL, x, run.fconst((float) (1 / Math.sqrt(2)))))),
              run.fconst(0.5f));
      String pdf =
          run.op(
              Op.MUL,
              run.op(Op.EXP, run.op(Op.MUL, run.op(Op.MUL, x, x), run.fconst(-0.5f))),
              run.fconst((float) (1 / Math.sqrt(2 * Math.PI))));
      d = run.op(Op.ADD, cdf, run.op(Op.MUL, x, pdf));
    } else {
      throw unsupportedConfig(n, "unknown approximate='" + mode + "'");
    }
    run.addGrad(x, run.op(Op.MUL, dy, d));
  }

  static void softmax(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    long[] ys = run.shapes().shape(y);
    String dot = run.sumKeepDims(run.op(Op.MUL, dy, y), ys, softmaxAxis(n, ys));
    run.addGrad(x, run.op(Op.MUL, y, run.op(Op.SUB, dy, dot)));
  }

  static void logSoftmax(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    long[] ys = run.shapes().shape(y);
    String s = run.sumKeepDims(dy, ys, softmaxAxis(n, ys));
    run.addGrad(x, run.op(Op.SUB, dy, run.op(Op.MUL, run.op(Op.EXP, y), s)));
  }

  /** The (Log)Softmax's axis as a one-element axes list, non-negative when the rank is known. */
  private static long[] softmaxAxis(NodeProto n, long[] shape) {
    long axis = intAttr(n, "axis", -1);
    return new long[] {shape == null ? axis : Shapes.axis(n, axis, shape.length)};
  }

  static void reduce(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    long[] xs = run.known(x, n, "input");
    long[] axes = run.shapes().reduceAxes(n, xs.length);
    if (axes == null) {
      throw unsupportedConfig(n, "its axes are not constant");
    }
    if (axes.length == 0) {
      run.addGrad(x, dy);
      return;
    }
    String gk = intAttr(n, "keepdims", 1) != 0 ? dy : run.op(Op.UNSQUEEZE, dy, run.ivec(axes));
    if (n.getOpType().equals("ReduceMean")) {
      long count = 1;
      for (long a : axes) {
        if (xs[(int) a] < 0) {
          throw new OnnxModelException(
              "ReduceMean node '"
                  + n.getName()
                  + "' averages"
                  + " over axis "
                  + a
                  + " of unknown size; its gradient needs a fixed size");
        }
        count *= xs[(int) a];
      }
      gk = run.op(Op.MUL, gk, run.fconst(1f / count));
    }
    run.addGrad(x, run.op(Op.EXPAND, gk, run.shapeOf(x)));
  }
}
