/**
 * Trust checks on an ONNX classifier's graph: {@link dev.arat.onnx.scan.GraphScan#scan} lists what
 * makes white-box (gradient) attacks on the model untrustworthy or impossible, as {@link
 * dev.arat.onnx.scan.GraphScan.Finding}s with stable codes, for the evaluator's report and {@code
 * arat inspect}.
 */
package dev.arat.onnx.scan;
