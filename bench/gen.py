"""Generate depickle benchmark inputs (needs cloudpickle). Usage: gen.py KIND OUTDIR
KIND: big (1 GB payload-heavy), small (5M small objects), many (10,000 small files),
large (20 x 100 MB files). Inputs are deterministic; a manifest of payload hashes is written
beside the big input so the converted output can be checked."""
import hashlib, json, os, sys
import cloudpickle

def closures():
    k = 3
    def add_k(x):
        return x + k
    class Dyn:
        scale = 7
        def __init__(self, v):
            self.v = v
        def f(self):
            return self.v * self.scale
    return {"lam": lambda x: x * 2, "add_k": add_k, "Dyn": Dyn, "obj": Dyn(6)}

def payload(i, n):
    # cheap deterministic non-constant bytes: a 1 MiB block derived from i, repeated
    block = hashlib.sha256(b"seed%d" % i).digest() * (1 << 15)  # 1 MiB
    reps, rest = divmod(n, len(block))
    return block * reps + block[:rest]

def big(out):
    d = {"payload_%02d" % i: payload(i, 64 << 20) for i in range(16)}
    d["code"] = closures()
    with open(os.path.join(out, "big.pkl"), "wb") as f:
        cloudpickle.dump(d, f, protocol=5)
    hashes = {k: hashlib.sha256(v).hexdigest() for k, v in d.items() if k.startswith("payload")}
    with open(os.path.join(out, "big.hashes.json"), "w") as f:
        json.dump(hashes, f)

def small(out):
    n = 5_000_000
    items = [(i, "s%d" % i) if i % 3 == 0 else i if i % 3 == 1 else "x%d" % (i % 100000)
             for i in range(n)]
    obj = {"items": items, "fn": closures()["add_k"], "lam": lambda xs: len(xs)}
    with open(os.path.join(out, "small.pkl"), "wb") as f:
        cloudpickle.dump(obj, f, protocol=5)

def many(out):
    os.makedirs(out, exist_ok=True)
    for i in range(10_000):
        j = i
        obj = {"id": i, "fn": (lambda x, j=j: x + j), "data": list(range(i % 50)), "name": "obj%d" % i}
        with open(os.path.join(out, "p%05d.pkl" % i), "wb") as f:
            cloudpickle.dump(obj, f, protocol=5)

def large(out):
    os.makedirs(out, exist_ok=True)
    for i in range(20):
        obj = {"blob": payload(100 + i, 100 * 10**6), "fn": closures()["add_k"]}
        with open(os.path.join(out, "l%02d.pkl" % i), "wb") as f:
            cloudpickle.dump(obj, f, protocol=5)

if __name__ == "__main__":
    kind, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    {"big": big, "small": small, "many": many, "large": large}[kind](out)
