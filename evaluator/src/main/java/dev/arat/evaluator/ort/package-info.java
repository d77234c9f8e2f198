/**
 * The ONNX Runtime adapter: {@link dev.arat.evaluator.ort.OrtClassifier} runs an ONNX classifier
 * and its input-gradient graph (built by the {@code onnx} module) on the CPU, CUDA or TensorRT
 * ({@link dev.arat.evaluator.ort.ExecutionProvider}, {@link
 * dev.arat.evaluator.ort.RuntimeOptions}), adapts a user's model to arat's NCHW pixels in [0,1]
 * ({@code ModelInput}: channels last, normalisation left out of the export, fixed batch size) and
 * turns the static graph scan into diagnostics when the model is loaded ({@code GraphChecks}).
 * Depends on {@code dev.arat.evaluator} and {@link dev.arat.evaluator.checks}.
 */
package dev.arat.evaluator.ort;
