/**
 * Runs evaluations: {@link dev.arat.evaluator.run.SuiteRunner} chooses the samples (optionally one
 * shard), runs the probes and the attack cascade at every radius of an epsilon sweep, records every
 * batch in a resumable {@link dev.arat.evaluator.run.Ledger}, draws the gallery of adversarial
 * examples ({@code Gallery}) and writes the report; {@link dev.arat.evaluator.run.Merge} merges
 * shard ledgers into the report of one run; {@link dev.arat.evaluator.run.Evidence} and {@link
 * dev.arat.evaluator.run.Replay} save adversarial examples and replay them on another model; {@link
 * dev.arat.evaluator.run.VariantComparison} evaluates model variants on the same samples. Top
 * layer: uses every other subpackage, none uses it.
 */
package dev.arat.evaluator.run;
