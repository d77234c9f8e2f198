/**
 * What makes a measurement trustworthy or not: the catalogue of report diagnostics ({@link
 * dev.arat.evaluator.checks.Diagnostic}, codes ARAT-Dnnn with severity and documentation anchor,
 * docs/diagnostics.md), the sanity probes run before the attacks (randomness, zero gradients,
 * full-range PGD, class count; {@link dev.arat.evaluator.checks.Probes}) and the watch for
 * non-finite logits and gradients during the run ({@link
 * dev.arat.evaluator.checks.NonFiniteWatch}). Depends only on {@code dev.arat.evaluator} and the
 * attack, specs and onnx modules.
 */
package dev.arat.evaluator.checks;
