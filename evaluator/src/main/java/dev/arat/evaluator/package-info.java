/**
 * Certifies robustness on an ONNX file: an ONNX Runtime classifier with input gradients from the
 * {@code onnx} module's input-gradient graph, on the CPU, CUDA or TensorRT ({@link
 * dev.arat.evaluator.ort.OrtClassifier}, {@link dev.arat.evaluator.ort.RuntimeOptions}); the suite runner
 * that chooses samples (optionally one {@link dev.arat.evaluator.Shard}), runs the sanity checks and
 * the attack cascade at every radius of an epsilon sweep, records every batch in a resumable
 * {@link dev.arat.evaluator.run.Ledger} and applies the gates ({@link dev.arat.evaluator.run.SuiteRunner});
 * the merge of shard ledgers ({@link dev.arat.evaluator.run.Merge}); the report with its {@link
 * dev.arat.evaluator.checks.Diagnostic}s ({@link dev.arat.evaluator.report.Report}), written by {@link
 * dev.arat.evaluator.report.ReportFiles} as {@code report.json}, {@code report.md}, {@code junit.xml} and
 * PNG plots ({@link dev.arat.evaluator.report.Plots}). Layouts: docs/report-schema.md; diagnostics:
 * docs/diagnostics.md; resume, shards and providers: docs/evaluation.md.
 */
package dev.arat.evaluator;
