/**
 * Datasets as plain Java arrays: IDX (MNIST, Fashion-MNIST), CIFAR-10/100 binary (folder or
 * tarball, with a small tar reader), image folders (PNG/JPEG via ImageIO), checksummed downloads,
 * seeded augmentation (random crop with zero padding, horizontal flip), a seeded synthetic set and
 * seeded permutations. Images are float32 NCHW in [0,1]; no engine dependency.
 */
package dev.arat.data;
