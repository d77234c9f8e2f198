/**
 * What ships: ONNX-to-ONNX transforms that make the deployable variants of a float classifier (INT8
 * in TensorRT's explicit-quantization QDQ form, FP16 with float32 boundaries), and the deployment
 * package that binds the files, the verdict and the provenance, with its verification.
 */
package dev.arat.deploy;
