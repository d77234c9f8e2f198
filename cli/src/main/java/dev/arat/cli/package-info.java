/**
 * The {@code arat} command line: thin picocli commands over the trainer, exporter and evaluator,
 * one error path and documented exit codes.
 */
package dev.arat.cli;
