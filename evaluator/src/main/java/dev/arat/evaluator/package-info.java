/**
 * Certifies robustness on an ONNX file: an ONNX Runtime classifier with input gradients from the
 * {@code onnx} module's input-gradient graph ({@link dev.arat.evaluator.OrtClassifier}), the suite
 * runner that chooses samples, builds the attack cascade and applies the gates ({@link
 * dev.arat.evaluator.SuiteRunner}), and the report ({@link dev.arat.evaluator.Report}, written by
 * {@link dev.arat.evaluator.ReportWriter} as {@code report.json} and {@code report.md}).
 */
package dev.arat.evaluator;
