package dev.arat.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * External tensor data: read by arat from inside the model's folder only, inlined, and digested.
 */
class ExternalDataTest {
  static final float[] W = {1, 2, 3, 4, 5, 6, 7, 8};

  @TempDir Path dir;

  /**
   * The tiny Flatten+Gemm classifier of {@link OnnxModelsTest#tiny()} with its weight {@code w}
   * (2x4 float32, 32 bytes) stored externally at {@code location}, from byte {@code offset}.
   */
  static ModelProto withExternalWeight(String location, long offset) {
    ModelProto m = OnnxModelsTest.tiny();
    TensorProto w = m.getGraph().getInitializer(0);
    TensorProto ext =
        w.toBuilder()
            .clearRawData()
            .setDataLocation(TensorProto.DataLocation.EXTERNAL)
            .addExternalData(entry("location", location))
            .addExternalData(entry("offset", Long.toString(offset)))
            .addExternalData(entry("length", Long.toString(w.getRawData().size())))
            .build();
    return m.toBuilder().setGraph(m.getGraph().toBuilder().setInitializer(0, ext)).build();
  }

  private static StringStringEntryProto entry(String k, String v) {
    return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
  }

  static byte[] weightBytes() {
    return Tensors.floatTensor("w", W, 2, 4).getRawData().toByteArray();
  }

  /** Writes the model with its weight in {@code weights.bin} (after 5 padding bytes) next to it. */
  static Path writeModelWithExternalWeight(Path folder) throws Exception {
    byte[] pad = {9, 9, 9, 9, 9};
    byte[] data = weightBytes();
    byte[] file = new byte[pad.length + data.length];
    System.arraycopy(pad, 0, file, 0, pad.length);
    System.arraycopy(data, 0, file, pad.length, data.length);
    Files.createDirectories(folder);
    Files.write(folder.resolve("weights.bin"), file);
    Path model = folder.resolve("model.onnx");
    Files.write(model, withExternalWeight("weights.bin", pad.length).toByteArray());
    return model;
  }

  static String sha256(byte[]... parts) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    for (byte[] p : parts) {
      md.update(p);
    }
    return HexFormat.of().formatHex(md.digest());
  }

  @Test
  void externalDataIsInlinedAndCoveredByTheDigest() throws Exception {
    Path model = writeModelWithExternalWeight(dir.resolve("m"));
    OnnxModels.ModelFile f = OnnxModels.read(model);
    TensorProto w = f.model().getGraph().getInitializer(0);
    assertEquals(TensorProto.DataLocation.DEFAULT, w.getDataLocation());
    assertEquals(0, w.getExternalDataCount());
    assertArrayEquals(W, Tensors.toFloatArray(w));
    assertFalse(ExternalData.hasExternal(f.model().getGraph()));
    // the digest is the file's bytes followed by the external tensor's bytes
    assertEquals(sha256(Files.readAllBytes(model), weightBytes()), f.sha256());
    assertNotEquals(sha256(Files.readAllBytes(model)), f.sha256());

    // changing only the external file changes the digest
    byte[] changed = Files.readAllBytes(model.resolveSibling("weights.bin"));
    changed[7] ^= 1;
    Files.write(model.resolveSibling("weights.bin"), changed);
    assertNotEquals(f.sha256(), OnnxModels.read(model).sha256());
  }

  @Test
  void withoutExternalDataTheDigestIsTheFilesSha256() throws Exception {
    Path p = dir.resolve("plain.onnx");
    OnnxModels.save(OnnxModelsTest.tiny(), p);
    assertEquals(sha256(Files.readAllBytes(p)), OnnxModels.read(p).sha256());
  }

  @Test
  void absoluteLocationIsRefused() throws Exception {
    Path model = dir.resolve("abs.onnx");
    Files.write(model, withExternalWeight("/etc/passwd", 0).toByteArray());
    String msg = assertThrows(OnnxModelException.class, () -> OnnxModels.load(model)).getMessage();
    assertTrue(msg.contains("'/etc/passwd' is refused") && msg.contains("absolute path"), msg);
  }

  @Test
  void dotDotIsRefusedEvenWhenTheFileExists() throws Exception {
    Files.write(dir.resolve("secret.bin"), weightBytes());
    Path model = dir.resolve("sub/model.onnx");
    Files.createDirectories(model.getParent());
    Files.write(model, withExternalWeight("../secret.bin", 0).toByteArray());
    String msg = assertThrows(OnnxModelException.class, () -> OnnxModels.load(model)).getMessage();
    assertTrue(msg.contains("contains '..'"), msg);
    Files.write(model, withExternalWeight("x/../../secret.bin", 0).toByteArray());
    assertThrows(OnnxModelException.class, () -> OnnxModels.load(model));
  }

  @Test
  void symbolicLinkLeavingTheFolderIsRefusedOneStayingInsideIsFollowed() throws Exception {
    Files.write(dir.resolve("secret.bin"), weightBytes());
    Path folder = Files.createDirectories(dir.resolve("sub"));
    Files.createSymbolicLink(folder.resolve("link.bin"), dir.resolve("secret.bin"));
    Path model = folder.resolve("model.onnx");
    Files.write(model, withExternalWeight("link.bin", 0).toByteArray());
    String msg = assertThrows(OnnxModelException.class, () -> OnnxModels.load(model)).getMessage();
    assertTrue(msg.contains("symbolic link") && msg.contains("outside the model's folder"), msg);

    Files.write(folder.resolve("inside.bin"), weightBytes());
    Files.createSymbolicLink(folder.resolve("inner-link.bin"), folder.resolve("inside.bin"));
    Files.write(model, withExternalWeight("inner-link.bin", 0).toByteArray());
    assertArrayEquals(W, Tensors.toFloatArray(OnnxModels.load(model).getGraph().getInitializer(0)));
  }

  @Test
  void missingFileAndOutOfRangeAreClearErrors() throws Exception {
    Path model = dir.resolve("model.onnx");
    Files.write(model, withExternalWeight("nope.bin", 0).toByteArray());
    String msg = assertThrows(OnnxModelException.class, () -> OnnxModels.load(model)).getMessage();
    assertTrue(msg.contains("'nope.bin' does not exist"), msg);

    Files.write(dir.resolve("short.bin"), new byte[10]);
    Files.write(model, withExternalWeight("short.bin", 0).toByteArray());
    msg = assertThrows(OnnxModelException.class, () -> OnnxModels.load(model)).getMessage();
    assertTrue(msg.contains("lies outside 'short.bin' (10 bytes)"), msg);
  }

  @Test
  void externalDataInAConstantNodeIsInlinedToo() throws Exception {
    GraphBuilder g = new GraphBuilder("const");
    String x = g.imageInput("input", 1, 2, 2);
    String f = g.node(Op.FLATTEN, x);
    TensorProto ext =
        Tensors.floatTensor("w", W, 2, 4).toBuilder()
            .clearRawData()
            .setDataLocation(TensorProto.DataLocation.EXTERNAL)
            .addExternalData(entry("location", "w.bin"))
            .build();
    String w = g.node(Op.CONSTANT, List.of(), Map.of("value", ext));
    g.output(g.node(Op.GEMM, List.of(f, w), Map.of("transB", 1)), "logits", Tensors.FLOAT, "N", 2);
    Files.write(dir.resolve("w.bin"), weightBytes());
    Path model = dir.resolve("const.onnx");
    Files.write(model, g.build(17).toByteArray());
    ModelProto m = OnnxModels.load(model);
    assertFalse(ExternalData.hasExternal(m.getGraph()));
    assertThrows(
        OnnxModelException.class,
        () -> OnnxModels.requireInline(OnnxModels.parse(Files.readAllBytes(model), "m"), "m"));
  }
}
