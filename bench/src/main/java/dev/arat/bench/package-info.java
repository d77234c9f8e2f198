/**
 * Benchmarks, run by hand (never in CI): {@link dev.arat.bench.TrainStepBench} times training steps
 * ({@code arat bench train}), {@link dev.arat.bench.GradientBench} compares one ONNX input-gradient
 * call with one forward call. Results and commands: {@code bench/README.md}.
 */
package dev.arat.bench;
