package dev.arat.evaluator.ort;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.arat.evaluator.EvaluationException;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Tensors;
import dev.arat.specs.EvaluationSuite;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What arat feeds a classifier, and how a user's model differs from it.
 *
 * <p>arat's attacks work on float32 pixels in {@code [0,1]} laid out {@code (N,C,H,W)}. A model
 * exported by PyTorch, TensorFlow or JAX may instead
 *
 * <ul>
 *   <li>take {@code (N,H,W,C)} (channels last, the TF/Keras default): recognised when axis 1 has
 *       more than 4 entries and axis 3 at most 4; a {@code Transpose} is put in front of the model
 *       so that attacks, gradients and reports stay in NCHW pixel space;
 *   <li>expect normalised input {@code (x - mean) / std} (exported without its normalisation): the
 *       suite's {@code normalization} key puts {@code Sub}/{@code Div} in front of the model, so
 *       the threat model is still measured on pixels;
 *   <li>declare a fixed batch size (the default of {@code torch.onnx.export}): recorded in {@link
 *       Adapted#fixedBatch()}; {@link OrtClassifier} then runs it in batches of exactly that size.
 * </ul>
 *
 * Anything else (more than one input, not float32, not rank 4, dynamic C/H/W) is an {@link
 * EvaluationException} of kind INPUT naming what is expected and what the model has.
 */
final class ModelInput {
  /** The name of the pixel input of an adapted model (made unique if the model uses it). */
  static final String PIXELS = "arat_pixels";

  private ModelInput() {}

  /** The model's input layout. */
  enum Layout {
    /** {@code (N,C,H,W)}: fed as is. */
    NCHW,
    /** {@code (N,H,W,C)}: arat's NCHW pixels are transposed in front of the model. */
    NHWC
  }

  /**
   * The model as arat runs it.
   *
   * @param model the model taking {@code (N,C,H,W)} pixels in {@code [0,1]} (the original when no
   *     adaptation was needed, else with Sub/Div/Transpose in front)
   * @param inputName its pixel input
   * @param layout the original model's layout
   * @param channels C
   * @param height H
   * @param width W
   * @param fixedBatch the batch size the model declares, or 0 when its batch axis is dynamic
   * @param adaptations what was put in front of the model, in words (empty when nothing)
   */
  record Adapted(
      ModelProto model,
      String inputName,
      Layout layout,
      int channels,
      int height,
      int width,
      int fixedBatch,
      List<String> adaptations) {}

  /**
   * Checks the model's input and adapts the model to NCHW pixels in {@code [0,1]}.
   *
   * @param model the classifier
   * @param source how messages name it
   * @param normalization mean/std to apply to pixels before the model, or null
   * @throws EvaluationException (INPUT) when the input cannot be fed images
   */
  static Adapted adapt(
      ModelProto model, String source, EvaluationSuite.Normalization normalization) {
    GraphProto g = model.getGraph();
    List<ValueInfoProto> inputs = OnnxModels.dataInputs(g);
    String expected = "arat feeds float32 pixels in [0,1] as (N,C,H,W) or (N,H,W,C)";
    if (inputs.size() != 1) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          source
              + ": "
              + expected
              + " to exactly one input, but the model has "
              + inputs.size()
              + " inputs "
              + inputs.stream().map(ValueInfoProto::getName).toList());
    }
    ValueInfoProto in = inputs.get(0);
    String name = in.getName();
    TypeProto.Tensor tt = in.getType().getTensorType();
    if (tt.getElemType() != TensorProto.DataType.FLOAT_VALUE) {
      TensorProto.DataType t = TensorProto.DataType.forNumber(tt.getElemType());
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          source
              + ": input '"
              + name
              + "' is "
              + (t == null ? "element type " + tt.getElemType() : t.name().toLowerCase(Locale.ROOT))
              + "; "
              + expected
              + ": export the model with a float32 input (scaling such as x*255 can go inside the model or into the"
              + " suite's normalization key)");
    }
    List<TensorShapeProto.Dimension> dims = tt.getShape().getDimList();
    if (dims.size() != 4) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          source
              + ": input '"
              + name
              + "' has shape "
              + shapeText(dims)
              + " (rank "
              + dims.size()
              + "); "
              + expected
              + ": export a model whose input is an image"
              + " batch (reshape inside the model if it works on flat vectors)");
    }
    long[] d = new long[4];
    for (int a = 1; a < 4; a++) {
      TensorShapeProto.Dimension dim = dims.get(a);
      if (!dim.hasDimValue() || dim.getDimValue() <= 0) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            source
                + ": input '"
                + name
                + "' has shape "
                + shapeText(dims)
                + "; axis "
                + a
                + " must be a fixed size (only the batch axis may be dynamic)");
      }
      d[a] = dim.getDimValue();
    }
    Layout layout = d[1] > 4 && d[3] <= 4 ? Layout.NHWC : Layout.NCHW;
    int c = Math.toIntExact(layout == Layout.NCHW ? d[1] : d[3]);
    int h = Math.toIntExact(layout == Layout.NCHW ? d[2] : d[1]);
    int w = Math.toIntExact(layout == Layout.NCHW ? d[3] : d[2]);
    TensorShapeProto.Dimension batch = dims.get(0);
    int fixedBatch =
        batch.hasDimValue() && batch.getDimValue() > 0 ? Math.toIntExact(batch.getDimValue()) : 0;

    List<String> adaptations = new ArrayList<>();
    if (layout == Layout.NCHW && normalization == null) {
      return new Adapted(model, name, layout, c, h, w, fixedBatch, adaptations);
    }
    Set<String> used = new HashSet<>();
    g.getNodeList()
        .forEach(
            n -> {
              used.addAll(n.getInputList());
              used.addAll(n.getOutputList());
            });
    g.getInitializerList().forEach(t -> used.add(t.getName()));
    g.getInputList().forEach(v -> used.add(v.getName()));
    String pixels = unique(PIXELS, used);
    List<NodeProto> front = new ArrayList<>();
    List<TensorProto> inits = new ArrayList<>();
    String current = pixels;
    if (normalization != null) {
      float[] mean = perChannel(normalization.mean(), c, "normalization.mean", source);
      float[] std = perChannel(normalization.std(), c, "normalization.std", source);
      String meanName = unique("arat_normalization_mean", used);
      String stdName = unique("arat_normalization_std", used);
      inits.add(Tensors.floatTensor(meanName, mean, 1, c, 1, 1));
      inits.add(Tensors.floatTensor(stdName, std, 1, c, 1, 1));
      String centred = unique("arat_centred", used);
      String normalised = layout == Layout.NHWC ? unique("arat_normalised", used) : name;
      front.add(
          NodeProto.newBuilder()
              .setOpType("Sub")
              .setName(unique("arat_normalization_sub", used))
              .addInput(current)
              .addInput(meanName)
              .addOutput(centred)
              .build());
      front.add(
          NodeProto.newBuilder()
              .setOpType("Div")
              .setName(unique("arat_normalization_div", used))
              .addInput(centred)
              .addInput(stdName)
              .addOutput(normalised)
              .build());
      current = normalised;
      adaptations.add(
          "pixels are normalised before the model: (x - "
              + normalization.mean()
              + ") / "
              + normalization.std()
              + " (suite key normalization)");
    }
    if (layout == Layout.NHWC) {
      front.add(
          NodeProto.newBuilder()
              .setOpType("Transpose")
              .setName(unique("arat_nchw_to_nhwc", used))
              .addInput(current)
              .addOutput(name)
              .addAttribute(
                  ai.onnx.proto.OnnxMl.AttributeProto.newBuilder()
                      .setName("perm")
                      .setType(ai.onnx.proto.OnnxMl.AttributeProto.AttributeType.INTS)
                      .addAllInts(List.of(0L, 2L, 3L, 1L)))
              .build());
      adaptations.add(
          String.format(
              Locale.ROOT,
              "the model takes channels-last input %s; arat transposes its"
                  + " (N,%d,%d,%d) pixels in front of it",
              shapeText(dims),
              c,
              h,
              w));
    }
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder().addDim(batch);
    for (long v : new long[] {c, h, w}) {
      shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(v));
    }
    ValueInfoProto newInput =
        ValueInfoProto.newBuilder()
            .setName(pixels)
            .setType(
                TypeProto.newBuilder()
                    .setTensorType(
                        TypeProto.Tensor.newBuilder()
                            .setElemType(TensorProto.DataType.FLOAT_VALUE)
                            .setShape(shape)))
            .build();
    GraphProto.Builder gb = g.toBuilder();
    for (int i = 0; i < gb.getInputCount(); i++) {
      if (gb.getInput(i).getName().equals(name)) {
        gb.setInput(i, newInput);
      }
    }
    gb.addAllInitializer(inits);
    gb.clearNode().addAllNode(front).addAllNode(g.getNodeList());
    return new Adapted(
        model.toBuilder().setGraph(gb).build(), pixels, layout, c, h, w, fixedBatch, adaptations);
  }

  private static float[] perChannel(List<Double> values, int c, String field, String source) {
    if (values.size() != 1 && values.size() != c) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          source
              + ": "
              + field
              + " has "
              + values.size()
              + " values; the model has "
              + c
              + " channel(s): give 1 or "
              + c);
    }
    float[] out = new float[c];
    for (int i = 0; i < c; i++) {
      out[i] = values.get(values.size() == 1 ? 0 : i).floatValue();
    }
    return out;
  }

  private static String unique(String base, Set<String> used) {
    String s = base;
    for (int i = 1; used.contains(s); i++) {
      s = base + "_" + i;
    }
    used.add(s);
    return s;
  }

  /** {@code (8,28,28,1)} or {@code (batch,1,28,28)}. */
  static String shapeText(List<TensorShapeProto.Dimension> dims) {
    List<String> out = new ArrayList<>();
    for (TensorShapeProto.Dimension d : dims) {
      out.add(
          d.hasDimValue()
              ? Long.toString(d.getDimValue())
              : d.hasDimParam() && !d.getDimParam().isEmpty() ? d.getDimParam() : "?");
    }
    return "(" + String.join(",", out) + ")";
  }
}
