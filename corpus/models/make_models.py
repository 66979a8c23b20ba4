"""Build the sample model tree used by tests/batch.rs and tests/cli.rs.

Run from anywhere with python3 >= 3.8 (standard library only):

    python3 corpus/models/make_models.py

It writes, under corpus/models/tree/:
  closure.pkl             cloudpickle 3.1.2 pickle (py3.11) -> converted
  nested/class.pkl        cloudpickle 3.1.2 class pickle    -> converted
  nested/old_cp.pkl       cloudpickle 2.2.1 closure          -> converted
  sample_model.bin        corpus/samples/model.cloudpickle.pkl under a non-pickle name (found by content)
  plain4.pkl, plain0.pkl  stdlib pickles (protocol 4 and 0)  -> already self-contained
  compressed/*.pkl.gz|.bz2|.xz   compressed cloudpickle pickles -> converted, same compression
  checkpoint.pt           PyTorch-style zip (stored members, 64-byte aligned tensor data)
  model.joblib            joblib-like file (NumpyArrayWrapper global + raw array bytes) -> untouched
  README.txt              text                               -> copied
and under corpus/models/bad/: garbage.pkl, truncated.pkl, refused.pkl (an unknown cloudpickle helper, refused).
The outputs are committed; the script only needs rerunning when the inputs change. Without torch
installed the checkpoint is written with zipfile in torch's layout.
"""

import bz2
import gzip
import io
import lzma
import os
import pickle
import shutil
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent
TREE = HERE / "tree"
BAD = HERE / "bad"
CP = CORPUS / "cloudpickle"
FIXED_TIME = (2024, 1, 1, 0, 0, 0)


def src(rel):
    return (CORPUS / rel).read_bytes()


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class Storage:
    """Stands for a tensor storage; pickled as a torch-style persistent id."""

    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class _TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", "FloatStorage", obj.key, "cpu", obj.numel)
        return None


def torch_like_zip(data_pkl, extra_pkl):
    """A zip in torch.save's layout: stored members, data aligned on 64 bytes via an 'FB' extra."""
    buf = io.BytesIO()
    tensor = bytes(range(256)) * 4
    members = [
        ("archive/data.pkl", data_pkl),
        ("archive/constants.pkl", extra_pkl),
        ("archive/byteorder", b"little"),
        ("archive/data/0", tensor),
        ("archive/data/1", tensor[:100]),
        ("archive/version", b"3\n"),
    ]
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_STORED
            header = 30 + len(name.encode())
            offset = buf.tell()
            pad = (-(offset + header + 4)) % 64
            info.extra = b"FB" + pad.to_bytes(2, "little") + b"Z" * pad
            z.writestr(info, data)
    return buf.getvalue()


def main():
    for d in (TREE, BAD):
        if d.exists():
            shutil.rmtree(d)
    closure = src("cloudpickle/cloudpickle-3.1.2/py3.11/closure_counter.4.pkl")
    write(TREE / "closure.pkl", closure)
    write(TREE / "nested" / "class.pkl", src("cloudpickle/cloudpickle-3.1.2/py3.11/class_basic.5.pkl"))
    write(TREE / "nested" / "old_cp.pkl", src("cloudpickle/cloudpickle-2.2.1/py3.11/closure_counter.2.pkl"))
    write(TREE / "sample_model.bin", src("samples/model.cloudpickle.pkl"))
    plain = {"weights": [0.5, 1.5, -2.0], "name": "plain", "shape": (3,)}
    write(TREE / "plain4.pkl", pickle.dumps(plain, protocol=4))
    write(TREE / "plain0.pkl", pickle.dumps(plain, protocol=0))
    lam = src("cloudpickle/cloudpickle-3.1.2/py3.11/lambda_simple.4.pkl")
    write(TREE / "compressed" / "lambda.pkl.gz", gzip.compress(lam, mtime=0))
    write(TREE / "compressed" / "lambda.pkl.bz2", bz2.compress(lam))
    write(TREE / "compressed" / "lambda.pkl.xz", lzma.compress(lam, format=lzma.FORMAT_XZ))
    write(TREE / "compressed" / "plain.pkl.gz", gzip.compress(pickle.dumps(plain, 4), mtime=0))
    b = io.BytesIO()
    _TorchPickler(b, protocol=2).dump({"layer.weight": Storage("0", 256), "layer.bias": Storage("1", 25)})
    write(TREE / "checkpoint.pt", torch_like_zip(closure, b.getvalue()))
    # joblib-like: joblib's NumpyArrayWrapper global, then the raw array bytes after the pickle.
    jl = (
        b"\x80\x04\x95\x40\x00\x00\x00\x00\x00\x00\x00\x8c\x13joblib.numpy_pickle\x94"
        b"\x8c\x11NumpyArrayWrapper\x94\x93\x94)\x81\x94."
    ) + bytes(64)
    write(TREE / "model.joblib", jl)
    write(TREE / "README.txt", b"Sample model tree for depickle's batch tests.\n")
    write(BAD / "garbage.pkl", b"\x80\x04this is not really a pickle at all\n")
    write(BAD / "truncated.pkl", closure[: len(closure) // 2])
    # A cloudpickle helper that does not exist: depickle must refuse it (exit 1).
    write(
        BAD / "refused.pkl",
        b"\x80\x02ccloudpickle.cloudpickle\n_depickle_test_unknown_helper\nq\x00)R.",
    )


if __name__ == "__main__":
    main()
