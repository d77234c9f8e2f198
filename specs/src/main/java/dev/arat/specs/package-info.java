/**
 * The data of the toolchain: architectures, training recipes, evaluation suites, threat models,
 * checkpoints and their strict YAML/JSON and safetensors codecs. Depends on Jackson only; never on
 * DJL or ONNX Runtime.
 */
package dev.arat.specs;
