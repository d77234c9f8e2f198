#!/usr/bin/python3
"""Writes the small valid inputs that seed the Jazzer fuzz tests (see docs/fuzzing.md).

Run from the repository root: /usr/bin/python3 ci/fuzz/make_seeds.py
Needs numpy and onnx (seed generation only; the build and CI never run this).
Each fuzz test replays every file of its inputs folder as a regression test, and fuzzing starts
from them. Crash inputs that Jazzer finds are saved into the same folders.
"""
import gzip
import io
import json
import os
import shutil
import struct
import tarfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.getcwd()


def inputs(module, package, cls, method):
    d = os.path.join(ROOT, module, "src/test/resources", package.replace(".", "/"),
                     cls + "Inputs", method)
    os.makedirs(d, exist_ok=True)
    return d


def write(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


# --- YAML suites and recipes: copies of built-in ones (small, valid)
builtin = os.path.join(ROOT, "specs/src/main/resources/dev/arat/specs/builtin")
d = inputs("specs", "dev.arat.specs", "SuiteFuzzTest", "suite")
for n in ["ci.yaml", "quick.yaml"]:
    shutil.copy(os.path.join(builtin, "suites", n), os.path.join(d, "seed-" + n))
d = inputs("specs", "dev.arat.specs", "RecipeFuzzTest", "recipe")
for n in ["demo.yaml", "fmnist-arat.yaml"]:
    shutil.copy(os.path.join(builtin, "recipes", n), os.path.join(d, "seed-" + n))

# --- safetensors: two F32 tensors and metadata
d = inputs("specs", "dev.arat.specs", "SafeTensorsFuzzTest", "safeTensors")
a = np.arange(6, dtype="<f4").reshape(2, 3)
b = np.array([0.5, -1.0], dtype="<f4")
header = {"__metadata__": {"format": "pt"},
          "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
          "b": {"dtype": "F32", "shape": [2], "data_offsets": [24, 32]}}
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
write(d, "seed-two-tensors.safetensors", struct.pack("<Q", len(h)) + h + a.tobytes() + b.tobytes())

# --- npy: the three dtypes the reader supports
d = inputs("specs", "dev.arat.specs", "NpyFuzzTest", "npy")
write(d, "seed-f32.npy", npy_bytes(np.arange(6, dtype="<f4").reshape(1, 2, 3)))
write(d, "seed-i64.npy", npy_bytes(np.array([3, 1, 4], dtype="<i8")))
write(d, "seed-i32-be.npy", npy_bytes(np.array([[7, 8]], dtype=">i4")))

# --- ONNX: a tiny classifier (Conv, Relu, Flatten, Gemm) and one with Dropout and Softmax
d = inputs("onnx", "dev.arat.onnx", "OnnxModelFuzzTest", "onnxModel")
rng = np.random.default_rng(0)
w = numpy_helper.from_array(rng.standard_normal((2, 1, 3, 3)).astype("f4"), "w")
fc = numpy_helper.from_array(rng.standard_normal((3, 8)).astype("f4"), "fc")
fb = numpy_helper.from_array(np.zeros(3, "f4"), "fb")
nodes = [helper.make_node("Conv", ["input", "w"], ["c"], kernel_shape=[3, 3], strides=[2, 2]),
         helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("Flatten", ["r"], ["f"]),
         helper.make_node("Gemm", ["f", "fc", "fb"], ["logits"], transB=1)]
g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 5, 5])],
                      [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])], [w, fc, fb])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
onnx.checker.check_model(m)
write(d, "seed-conv-gemm.onnx", m.SerializeToString())
nodes = [helper.make_node("MatMul", ["input", "mw"], ["h"]),
         helper.make_node("Dropout", ["h"], ["hd"]),
         helper.make_node("Softmax", ["hd"], ["probs"], axis=1)]
mw = numpy_helper.from_array(rng.standard_normal((4, 2)).astype("f4"), "mw")
g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 4])],
                      [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 2])], [mw])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)
onnx.checker.check_model(m)
write(d, "seed-matmul-softmax.onnx", m.SerializeToString())

# --- IDX: an image file (2 images of 3x4) and a label file, one plain and one gzipped
d = inputs("data", "dev.arat.data", "IdxFuzzTest", "idx")
imgs = struct.pack(">IIII", 0x803, 2, 3, 4) + bytes(range(24))
write(d, "seed-images.idx3", imgs)
write(d, "seed-images.idx3.gz", gzip.compress(imgs, mtime=0))
write(d, "seed-labels.idx1", struct.pack(">II", 0x801, 3) + bytes([0, 9, 4]))


# --- CIFAR-10 tarball: one test record and the class names, as tar and tar.gz
def tar_bytes(files, fmt):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        di = tarfile.TarInfo("cifar-10-batches-bin")
        di.type = tarfile.DIRTYPE
        di.mtime = 0
        t.addfile(di)
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 0
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


d = inputs("data", "dev.arat.data", "CifarTarFuzzTest", "cifarTarball")
record = bytes([3]) + bytes((i * 7) % 256 for i in range(3072))
meta = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"
files = [("cifar-10-batches-bin/batches.meta.txt", meta), ("cifar-10-batches-bin/test_batch.bin", record)]
plain = tar_bytes(files, tarfile.USTAR_FORMAT)
write(d, "seed-ustar.tar", plain)
write(d, "seed-ustar.tar.gz", gzip.compress(plain, mtime=0))
long_name = [("x/" + "d" * 110 + "/cifar-10-batches-bin/test_batch.bin", record)]
write(d, "seed-gnu-longname.tar", tar_bytes(long_name, tarfile.GNU_FORMAT))
write(d, "seed-pax.tar", tar_bytes(long_name, tarfile.PAX_FORMAT))
print("seeds written")
