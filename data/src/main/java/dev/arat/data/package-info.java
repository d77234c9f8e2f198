/**
 * Datasets as plain Java arrays: IDX (MNIST, Fashion-MNIST) reading, a seeded synthetic set, and
 * seeded permutations. Images are float32 NCHW in [0,1]; no engine dependency.
 */
package dev.arat.data;
