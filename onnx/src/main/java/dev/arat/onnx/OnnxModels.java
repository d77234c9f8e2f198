package dev.arat.onnx;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.arat.specs.AtomicFiles;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * Reads, checks and writes ONNX model files.
 *
 * <p>Every failure becomes an {@link OnnxModelException} whose message names the file and says what
 * is wrong (missing, unreadable, empty, truncated or corrupt, structurally invalid); no protobuf
 * exception reaches the user except as the cause.
 */
public final class OnnxModels {
  private OnnxModels() {}

  /**
   * Loads and structurally checks a model file, with any external data inlined (see {@link
   * #read(Path)}).
   *
   * @param path an {@code .onnx} file
   * @return the parsed model, every tensor inline
   * @throws OnnxModelException if the file is missing, unreadable, not an ONNX model, its graph is
   *     malformed (see {@link #check(ModelProto, String)}), or its external data is unsafe or
   *     missing
   */
  public static ModelProto load(Path path) {
    return read(path).model();
  }

  /**
   * A loaded model file.
   *
   * @param model the parsed model with every tensor inline (external data read and inlined)
   * @param sha256 the model digest (hex): SHA-256 over the {@code .onnx} file's bytes followed by
   *     the bytes of each external tensor in reading order (graph initializers, sparse
   *     initializers, then node attribute tensors, subgraphs depth first); for a model without
   *     external data this is the SHA-256 of the file
   */
  public record ModelFile(ModelProto model, String sha256) {}

  /**
   * Loads a model file, reads its external data, if any, from inside the model's folder only
   * (absolute locations, {@code ..} and symbolic links that leave the folder are refused), inlines
   * it, and computes the digest covering the file and all external data.
   *
   * @param path an {@code .onnx} file
   * @return the model (all data inline) and its digest
   * @throws OnnxModelException as {@link #load(Path)}
   */
  public static ModelFile read(Path path) {
    String label = "model file '" + path + "'";
    if (Files.isDirectory(path)) {
      throw new OnnxModelException(label + " is a directory, expected an .onnx file");
    }
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      throw new OnnxModelException(label + " does not exist", e);
    } catch (AccessDeniedException e) {
      throw new OnnxModelException(label + " cannot be read (permission denied)", e);
    } catch (IOException e) {
      throw new OnnxModelException(label + " cannot be read: " + e.getMessage(), e);
    } catch (OutOfMemoryError e) {
      throw new OnnxModelException(label + " is too large to load in memory", e);
    }
    ModelProto m = parse(bytes, label);
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    md.update(bytes);
    Path folder = path.toAbsolutePath().getParent();
    ModelProto inlined = ExternalData.inline(m, folder, label, md, bytes.length);
    return new ModelFile(inlined, HexFormat.of().formatHex(md.digest()));
  }

  /**
   * Refuses a model that still keeps tensor data in external files: ONNX Runtime must get every
   * byte from arat (see {@link #read(Path)}), never open files a model names.
   *
   * @param model the model about to be handed to ONNX Runtime
   * @param label how to name it in messages
   * @throws OnnxModelException if some tensor's data is external
   */
  public static void requireInline(ModelProto model, String label) {
    if (ExternalData.hasExternal(model.getGraph())) {
      throw new OnnxModelException(
          label
              + " keeps tensor data in external files; load it from its file"
              + " (OnnxModels.read) so arat reads that data from the model's folder and inlines it");
    }
  }

  /**
   * Parses and structurally checks a serialized model.
   *
   * @param bytes the protobuf bytes of a {@code ModelProto}
   * @param label how to name the source in messages, e.g. {@code "model file 'm.onnx'"}
   * @throws OnnxModelException if the bytes are not a well-formed ONNX model
   */
  public static ModelProto parse(byte[] bytes, String label) {
    if (bytes.length == 0) {
      throw new OnnxModelException(label + " is empty (0 bytes)");
    }
    ModelProto m;
    try {
      m = ModelProto.parseFrom(bytes);
    } catch (InvalidProtocolBufferException e) {
      throw new OnnxModelException(
          label
              + " is not a valid ONNX model: the file is truncated or"
              + " corrupt ("
              + bytes.length
              + " bytes; protobuf says: "
              + e.getMessage()
              + ")",
          e);
    } catch (RuntimeException e) {
      throw new OnnxModelException(label + " is not a valid ONNX model: " + e, e);
    }
    check(m, label);
    return m;
  }

  /**
   * Checks the structure a usable model needs: an IR version, a default-domain opset, a graph with
   * at least one node, one non-initializer input and one output, every node input defined by a
   * graph input, initializer or node output, and every graph output produced.
   *
   * @param m the model
   * @param label how to name the model in messages
   * @throws OnnxModelException naming the first problem found
   */
  public static void check(ModelProto m, String label) {
    if (m.getIrVersion() <= 0) {
      throw new OnnxModelException(
          label
              + " is not a valid ONNX model: it has no ir_version"
              + " (truncated, corrupt, or not an ONNX file)");
    }
    if (!m.hasGraph()) {
      throw new OnnxModelException(
          label
              + " is not a valid ONNX model: it has no graph"
              + " (truncated, corrupt, or not an ONNX file)");
    }
    if (defaultOpset(m) < 0) {
      throw new OnnxModelException(
          label
              + " declares no opset for the default ONNX domain"
              + " (truncated or corrupt file?)");
    }
    GraphProto g = m.getGraph();
    if (g.getNodeCount() == 0) {
      throw new OnnxModelException(label + ": graph '" + g.getName() + "' has no nodes");
    }
    if (dataInputs(g).isEmpty()) {
      throw new OnnxModelException(
          label
              + ": graph '"
              + g.getName()
              + "' has no inputs (every declared input is an initializer)");
    }
    if (g.getOutputCount() == 0) {
      throw new OnnxModelException(label + ": graph '" + g.getName() + "' has no outputs");
    }
    for (TensorProto t : g.getInitializerList()) {
      checkTensor(t, label);
    }
    Set<String> defined = new HashSet<>();
    g.getInputList().forEach(v -> defined.add(v.getName()));
    g.getInitializerList().forEach(t -> defined.add(t.getName()));
    for (NodeProto n : g.getNodeList()) {
      for (String o : n.getOutputList()) {
        if (!o.isEmpty()) {
          defined.add(o);
        }
      }
    }
    for (NodeProto n : g.getNodeList()) {
      for (String in : n.getInputList()) {
        if (!in.isEmpty() && !defined.contains(in) && !hasSubgraph(n)) {
          throw new OnnxModelException(
              label
                  + ": node '"
                  + n.getName()
                  + "' ("
                  + n.getOpType()
                  + ") reads tensor '"
                  + in
                  + "' that nothing in the graph defines");
        }
      }
    }
    for (ValueInfoProto o : g.getOutputList()) {
      if (!defined.contains(o.getName())) {
        throw new OnnxModelException(
            label + ": graph output '" + o.getName() + "' is not produced by any node");
      }
    }
  }

  /**
   * Checks an initializer's shape: no negative dimension, an element count that fits in memory, and
   * inline raw data whose size is that count times the element size (external data is checked when
   * it is read).
   */
  private static void checkTensor(TensorProto t, String label) {
    long count = 1;
    for (int i = 0; i < t.getDimsCount(); i++) {
      long d = t.getDims(i);
      if (d < 0) {
        throw new OnnxModelException(
            label
                + ": initializer '"
                + t.getName()
                + "' has a negative dimension ("
                + t.getDimsList()
                + "); the file is corrupt or was written by a broken exporter");
      }
      count = d == 0 || count == 0 ? 0 : count * d;
      if (count > Integer.MAX_VALUE) {
        throw new OnnxModelException(
            label
                + ": initializer '"
                + t.getName()
                + "' has "
                + t.getDimsList()
                + " elements, more than a model can hold");
      }
    }
    int size = elementBytes(t.getDataType());
    if (size > 0
        && t.getDataLocation() != TensorProto.DataLocation.EXTERNAL
        && !t.getRawData().isEmpty()
        && t.getRawData().size() != count * size) {
      throw new OnnxModelException(
          label
              + ": initializer '"
              + t.getName()
              + "' has shape "
              + t.getDimsList()
              + " ("
              + count
              + " elements of "
              + size
              + " bytes) but "
              + t.getRawData().size()
              + " bytes of data");
    }
  }

  /** Bytes per element of a fixed-size ONNX element type, or 0 (strings, unknown types). */
  private static int elementBytes(int dataType) {
    return switch (TensorProto.DataType.forNumber(dataType) == null
        ? TensorProto.DataType.UNDEFINED
        : TensorProto.DataType.forNumber(dataType)) {
      case FLOAT, INT32, UINT32 -> 4;
      case DOUBLE, INT64, UINT64, COMPLEX64 -> 8;
      case COMPLEX128 -> 16;
      case FLOAT16, BFLOAT16, INT16, UINT16 -> 2;
      case INT8, UINT8, BOOL -> 1;
      default -> 0;
    };
  }

  private static boolean hasSubgraph(NodeProto n) {
    return n.getAttributeList().stream().anyMatch(a -> a.hasG() || a.getGraphsCount() > 0);
  }

  /** The default-domain ({@code ""} or {@code "ai.onnx"}) opset version, or -1 if none. */
  public static long defaultOpset(ModelProto m) {
    for (OperatorSetIdProto o : m.getOpsetImportList()) {
      if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
        return o.getVersion();
      }
    }
    return -1;
  }

  /**
   * The graph inputs that are fed at run time, i.e. declared inputs that are not also initializers
   * (older IR versions list every initializer as an input too).
   */
  public static List<ValueInfoProto> dataInputs(GraphProto g) {
    Set<String> inits = new HashSet<>();
    for (TensorProto t : g.getInitializerList()) {
      inits.add(t.getName());
    }
    List<ValueInfoProto> out = new ArrayList<>();
    for (ValueInfoProto v : g.getInputList()) {
      if (!inits.contains(v.getName())) {
        out.add(v);
      }
    }
    return out;
  }

  /**
   * Writes a model atomically: the bytes go to a temporary file in the target's directory, which is
   * then renamed over the target, so readers never see a half-written model.
   *
   * @param model the model to write
   * @param path the destination; its parent directory is created if missing
   * @throws OnnxModelException if the file cannot be written
   */
  public static void save(ModelProto model, Path path) {
    try {
      AtomicFiles.write(path, model.toByteArray());
    } catch (IOException e) {
      throw new OnnxModelException("cannot write model file '" + path + "': " + e, e);
    }
  }
}
