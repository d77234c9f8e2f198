/**
 * Certifies robustness on an ONNX file. The work is split by job into subpackages, each depending
 * only on the ones listed before it: this package holds what they all share ({@link
 * dev.arat.evaluator.EvaluationException} with its exit-code kind, and the {@link
 * dev.arat.evaluator.Shard} of an evaluation); {@link dev.arat.evaluator.checks} the diagnostics
 * and the sanity probes; {@link dev.arat.evaluator.ort} the ONNX Runtime classifier with input
 * gradients; {@link dev.arat.evaluator.report} the report record, its assembly from cascade results
 * with the gates, and its files and plots; {@link dev.arat.evaluator.run} the suite runner, the
 * resumable ledger, the merge of shards, replay and variant comparison. Layouts:
 * docs/report-schema.md; diagnostics: docs/diagnostics.md; resume, shards and providers:
 * docs/evaluation.md.
 */
package dev.arat.evaluator;
