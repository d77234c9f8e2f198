/**
 * ONNX model I/O and a small validated graph builder over the protobuf classes {@code
 * ai.onnx.proto.OnnxMl} (bundled by {@code org.tribuo:tribuo-util-onnx}).
 *
 * <ul>
 *   <li>{@link dev.arat.onnx.OnnxModels}: load (with clear {@link dev.arat.onnx.OnnxModelException}
 *       errors) and atomically save {@code ModelProto}s.
 *   <li>{@link dev.arat.onnx.GraphBuilder} with the op table {@link dev.arat.onnx.Op}: writes
 *       graphs whose nodes are checked for arity and attributes as they are added.
 *   <li>{@link dev.arat.specs.Npy} (in {@code specs}): NumPy {@code .npy} reading and writing.
 * </ul>
 *
 * <p>The input-gradient graph lives in {@link dev.arat.onnx.grad}; the trust checks (graph scan for
 * gradient masking) in {@link dev.arat.onnx.scan}. This package does not depend on ONNX Runtime.
 */
package dev.arat.onnx;
