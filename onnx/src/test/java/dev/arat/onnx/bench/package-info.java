/**
 * Benchmarks (runnable classes with a {@code main}, not tests): {@link
 * dev.arat.onnx.bench.GradientBench} compares one input-gradient call with one forward call.
 */
package dev.arat.onnx.bench;
