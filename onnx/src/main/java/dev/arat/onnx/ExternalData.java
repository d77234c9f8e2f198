package dev.arat.onnx;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.SparseTensorProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;

/**
 * Reads the external data of an ONNX model (tensors whose bytes live in other files, {@code
 * data_location: EXTERNAL}) and inlines it, so that ONNX Runtime only ever sees a self-contained
 * model given as bytes and never opens a file itself.
 *
 * <p>Every external file must lie inside the model's folder: a {@code location} that is absolute,
 * contains {@code ..}, or resolves (after following symbolic links) to a file outside that folder
 * is refused. Each tensor's bytes are fed to the model digest in the order they are read: graph
 * initializers, sparse initializers, then node attribute tensors, subgraphs depth first.
 *
 * <p>Protobuf caps a serialized message at 2 GB, so a model whose inlined size would exceed that
 * cannot be evaluated; that is a clear error, not a silent truncation.
 */
final class ExternalData {
  /** The largest model, inline data included, that arat hands to ONNX Runtime as bytes. */
  static final long MAX_INLINED_BYTES = Integer.MAX_VALUE - 8;

  private final Path folder;
  private final Path realFolder;
  private final String label;
  private final MessageDigest digest;
  private long inlinedBytes;

  private ExternalData(Path folder, String label, MessageDigest digest, long fileBytes)
      throws IOException {
    this.folder = folder;
    this.realFolder = folder.toRealPath();
    this.label = label;
    this.digest = digest;
    this.inlinedBytes = fileBytes;
  }

  /**
   * Inlines every external tensor of {@code model}.
   *
   * @param model the parsed model
   * @param folder the folder of the model file; external locations are relative to it
   * @param label how to name the model in messages
   * @param digest receives each external tensor's bytes, in reading order
   * @param fileBytes the size of the model file itself
   * @return the model with all data inline (the same object when nothing is external)
   * @throws OnnxModelException when a location is unsafe, missing or out of range, or the inlined
   *     model would exceed 2 GB
   */
  static ModelProto inline(
      ModelProto model, Path folder, String label, MessageDigest digest, long fileBytes) {
    if (!hasExternal(model.getGraph())) {
      return model;
    }
    try {
      ExternalData x = new ExternalData(folder, label, digest, fileBytes);
      return model.toBuilder().setGraph(x.graph(model.getGraph())).build();
    } catch (IOException e) {
      throw new OnnxModelException(
          label + ": cannot read its folder for external data: " + e.getMessage(), e);
    }
  }

  /** True when some tensor of {@code g} or its subgraphs keeps its data in another file. */
  static boolean hasExternal(GraphProto g) {
    for (TensorProto t : g.getInitializerList()) {
      if (isExternal(t)) {
        return true;
      }
    }
    for (SparseTensorProto s : g.getSparseInitializerList()) {
      if (isExternal(s.getValues()) || isExternal(s.getIndices())) {
        return true;
      }
    }
    for (NodeProto n : g.getNodeList()) {
      for (AttributeProto a : n.getAttributeList()) {
        if (isExternal(a.getT())
            || a.getTensorsList().stream().anyMatch(ExternalData::isExternal)
            || isExternal(a.getSparseTensor().getValues())
            || isExternal(a.getSparseTensor().getIndices())
            || (a.hasG() && hasExternal(a.getG()))
            || a.getGraphsList().stream().anyMatch(ExternalData::hasExternal)) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean isExternal(TensorProto t) {
    return t.getDataLocation() == TensorProto.DataLocation.EXTERNAL || t.getExternalDataCount() > 0;
  }

  private GraphProto graph(GraphProto g) {
    GraphProto.Builder b = g.toBuilder();
    for (int i = 0; i < b.getInitializerCount(); i++) {
      b.setInitializer(i, tensor(b.getInitializer(i)));
    }
    for (int i = 0; i < b.getSparseInitializerCount(); i++) {
      b.setSparseInitializer(i, sparse(b.getSparseInitializer(i)));
    }
    for (int i = 0; i < b.getNodeCount(); i++) {
      NodeProto.Builder n = b.getNode(i).toBuilder();
      for (int j = 0; j < n.getAttributeCount(); j++) {
        n.setAttribute(j, attribute(n.getAttribute(j)));
      }
      b.setNode(i, n);
    }
    return b.build();
  }

  private AttributeProto attribute(AttributeProto a) {
    AttributeProto.Builder b = a.toBuilder();
    if (a.hasT()) {
      b.setT(tensor(a.getT()));
    }
    for (int i = 0; i < b.getTensorsCount(); i++) {
      b.setTensors(i, tensor(b.getTensors(i)));
    }
    if (a.hasSparseTensor()) {
      b.setSparseTensor(sparse(a.getSparseTensor()));
    }
    for (int i = 0; i < b.getSparseTensorsCount(); i++) {
      b.setSparseTensors(i, sparse(b.getSparseTensors(i)));
    }
    if (a.hasG()) {
      b.setG(graph(a.getG()));
    }
    for (int i = 0; i < b.getGraphsCount(); i++) {
      b.setGraphs(i, graph(b.getGraphs(i)));
    }
    return b.build();
  }

  private SparseTensorProto sparse(SparseTensorProto s) {
    return s.toBuilder()
        .setValues(tensor(s.getValues()))
        .setIndices(tensor(s.getIndices()))
        .build();
  }

  private TensorProto tensor(TensorProto t) {
    if (!isExternal(t)) {
      return t;
    }
    String what = label + ": tensor '" + t.getName() + "'";
    if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) {
      throw new OnnxModelException(
          what + " lists external_data entries but its data_location is not EXTERNAL");
    }
    String location = null;
    long offset = 0;
    long length = -1;
    for (StringStringEntryProto e : t.getExternalDataList()) {
      switch (e.getKey()) {
        case "location" -> location = e.getValue();
        case "offset" -> offset = number(what, "offset", e.getValue());
        case "length" -> length = number(what, "length", e.getValue());
        default -> {} // "checksum" and future keys: the digest covers the bytes themselves
      }
    }
    if (location == null || location.isEmpty()) {
      throw new OnnxModelException(what + " has external data without a 'location'");
    }
    Path file = confined(what, location);
    byte[] data = read(what, location, file, offset, length);
    inlinedBytes += data.length;
    if (inlinedBytes > MAX_INLINED_BYTES) {
      throw new OnnxModelException(
          label
              + ": with its external data inlined the model exceeds 2 GB (at least "
              + inlinedBytes
              + " bytes); arat hands ONNX Runtime one self-contained model and protobuf caps"
              + " a model at 2 GB, so models this large cannot be evaluated");
    }
    digest.update(data);
    return t.toBuilder()
        .clearExternalData()
        .setDataLocation(TensorProto.DataLocation.DEFAULT)
        .setRawData(ByteString.copyFrom(data))
        .build();
  }

  private static long number(String what, String key, String value) {
    try {
      long v = Long.parseLong(value.strip());
      if (v >= 0) {
        return v;
      }
    } catch (NumberFormatException e) {
      // fall through
    }
    throw new OnnxModelException(
        what + ": external data " + key + " must be a whole number >= 0, was '" + value + "'");
  }

  /** The external file for {@code location}, refused unless it lies inside the model's folder. */
  private Path confined(String what, String location) {
    String refused = what + ": external data location '" + location + "' is refused: ";
    if (location.startsWith("/") || location.startsWith("\\") || location.matches("^[A-Za-z]:.*")) {
      throw new OnnxModelException(
          refused
              + "it is an absolute path; external data must be a file inside the"
              + " model's folder, named relative to it");
    }
    Path rel;
    try {
      rel = Path.of(location);
    } catch (InvalidPathException e) {
      throw new OnnxModelException(refused + "not a valid file name (" + e.getReason() + ")");
    }
    if (rel.isAbsolute()) {
      throw new OnnxModelException(
          refused
              + "it is an absolute path; external data must be a file inside the"
              + " model's folder, named relative to it");
    }
    for (String part : location.split("[/\\\\]")) {
      if (part.equals("..")) {
        throw new OnnxModelException(
            refused
                + "it contains '..'; external data must be a file inside the"
                + " model's folder");
      }
    }
    Path file = folder.resolve(rel);
    Path real;
    try {
      real = file.toRealPath();
    } catch (NoSuchFileException e) {
      throw new OnnxModelException(
          what
              + ": external data file '"
              + location
              + "' does not exist (looked in "
              + folder
              + ")",
          e);
    } catch (IOException e) {
      throw new OnnxModelException(
          what + ": external data file '" + location + "' cannot be read: " + e, e);
    }
    if (!real.startsWith(realFolder)) {
      throw new OnnxModelException(
          refused
              + "it resolves (through a symbolic link) to "
              + real
              + ", outside the model's folder "
              + realFolder);
    }
    if (!Files.isRegularFile(real, LinkOption.NOFOLLOW_LINKS)) {
      throw new OnnxModelException(refused + "it is not a regular file");
    }
    return real;
  }

  private byte[] read(String what, String location, Path file, long offset, long length) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      long n = length < 0 ? size - offset : length;
      if (offset > size || n < 0 || offset + n > size) {
        throw new OnnxModelException(
            what
                + ": external data range (offset "
                + offset
                + ", length "
                + (length < 0 ? "to the end" : length)
                + ") lies outside '"
                + location
                + "' ("
                + size
                + " bytes)");
      }
      if (n > MAX_INLINED_BYTES - inlinedBytes) {
        throw new OnnxModelException(
            label
                + ": with its external data inlined the model exceeds 2 GB (tensor '"
                + location
                + "' alone has "
                + n
                + " bytes); arat hands ONNX Runtime one self-contained model and"
                + " protobuf caps a model at 2 GB, so models this large cannot be evaluated");
      }
      ByteBuffer buf = ByteBuffer.allocate((int) n);
      long pos = offset;
      while (buf.hasRemaining()) {
        int r = ch.read(buf, pos);
        if (r < 0) {
          throw new OnnxModelException(
              what + ": external data file '" + location + "' ended early");
        }
        pos += r;
      }
      return buf.array();
    } catch (IOException e) {
      throw new OnnxModelException(
          what + ": external data file '" + location + "' cannot be read: " + e, e);
    }
  }
}
