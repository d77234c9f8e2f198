/**
 * The result of an evaluation and its files: {@link dev.arat.evaluator.report.Report} is the record
 * written as {@code report.json}; {@link dev.arat.evaluator.report.ReportAssembler} builds one from
 * cascade results (aggregates, per class, sweep, baseline, diagnostics from the results, gates);
 * {@link dev.arat.evaluator.report.ReportFiles} writes it as {@code report.json}, {@code report.md}
 * and {@code junit.xml}; {@link dev.arat.evaluator.report.Plots} draws the PNG plots; {@link
 * dev.arat.evaluator.report.Wilson} and {@link dev.arat.evaluator.report.ClopperPearson} give the
 * binomial intervals; {@link dev.arat.evaluator.report.Progress} prints progress on the terminal.
 * Depends on {@code dev.arat.evaluator} and {@link dev.arat.evaluator.checks}; layout in
 * docs/report-schema.md.
 */
package dev.arat.evaluator.report;
