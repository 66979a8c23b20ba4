# Checks pickles re-written by pickle-codec's Writer against the originals.
#
# Usage: python3 -I -S check_rewritten.py MANIFEST
# MANIFEST holds lines "<original path>\t<rewritten path>\t<protocol>". For each pair:
#   * both load, and the loaded objects are equal: compared as the C pickler's output of each at
#     the same protocol (which follows shared references, recursion and NaN identically);
#   * pickletools.dis accepts the rewritten stream;
#   * for protocol 4+, the frames of the rewritten stream follow CPython's rules (see
#     check_frames).
# Prints one line per failure and exits 1 if there was any.
import io
import pickle
import pickletools
import sys

if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)

TARGET = 64 * 1024
FRAME_SIZE_MIN = 4
# Width of the length field of ops whose payload follows a length.
LEN_WIDTH = {
    "LONG1": 1, "SHORT_BINSTRING": 1, "SHORT_BINUNICODE": 1, "SHORT_BINBYTES": 1,
    "LONG4": 4, "BINSTRING": 4, "BINUNICODE": 4, "BINBYTES": 4,
    "BINUNICODE8": 8, "BINBYTES8": 8, "BYTEARRAY8": 8,
}
TEXT_OPS = {"INT", "LONG", "FLOAT", "STRING", "UNICODE", "PERSID"}


def payload_len(name, size):
    if name in LEN_WIDTH:
        return size - 1 - LEN_WIDTH[name]
    if name in TEXT_OPS:
        return size - 2
    return 0


def check_frames(data):
    """Returns a list of problems with the framing of `data` (empty if none).

    Rules (CPython's pickler, as pickle-codec's Writer implements them):
      * no op straddles the end of a frame, and no FRAME sits inside a frame;
      * ops whose payload is >= 64 KiB sit outside frames;
      * other ops sit inside frames, except PROTO at offset 0 and runs of fewer than 4 bytes
        (a frame too small for a header) that are followed by a large op or the end;
      * a frame is committed at the first op boundary where it reaches 64 KiB: every frame minus
        its last op is below 64 KiB, and a frame below 64 KiB is followed by a large op or the
        end of the stream.
    """
    problems = []
    ops = list(pickletools.genops(data))
    n = len(ops)
    items = []  # (name, pos, end, arg)
    for i, (op, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < n else len(data)
        items.append((op.name, pos, end, arg))
    if items and items[-1][2] != len(data):
        problems.append("trailing bytes after STOP")

    def is_large(it):
        return payload_len(it[0], it[2] - it[1]) >= TARGET

    i = 0
    while i < n:
        name, pos, end, arg = items[i]
        if name == "FRAME":
            frame_end = end + arg
            j = i + 1
            sizes = []
            while j < n and items[j][1] < frame_end:
                if items[j][2] > frame_end:
                    problems.append("op %s at %d straddles the frame ending at %d"
                                    % (items[j][0], items[j][1], frame_end))
                if items[j][0] == "FRAME":
                    problems.append("FRAME at %d inside a frame" % items[j][1])
                if is_large(items[j]):
                    problems.append("large op %s at %d inside a frame" % (items[j][0], items[j][1]))
                sizes.append(items[j][2] - items[j][1])
                j += 1
            if not sizes:
                problems.append("empty frame at %d" % pos)
            elif arg - sizes[-1] >= TARGET:
                problems.append("frame at %d (%d bytes) not committed at the first boundary "
                                "past 64 KiB" % (pos, arg))
            if arg < FRAME_SIZE_MIN:
                problems.append("frame at %d shorter than 4 bytes has a header" % pos)
            nxt = items[j] if j < n else None
            if arg < TARGET and nxt is not None and not is_large(nxt):
                problems.append("frame at %d of %d bytes closed before 64 KiB, followed by %s"
                                % (pos, arg, nxt[0]))
            i = j
            continue
        if is_large(items[i]) or (name == "PROTO" and pos == 0):
            i += 1
            continue
        # an unframed run of small ops
        j = i
        run = 0
        while j < n and items[j][0] != "FRAME" and not is_large(items[j]):
            run += items[j][2] - items[j][1]
            j += 1
        if run >= FRAME_SIZE_MIN or (j < n and items[j][0] == "FRAME"):
            problems.append("ops from %d to %d (%d bytes) outside frames" % (pos, items[j - 1][2], run))
        i = j
    return problems


def selftest():
    """Checks that check_frames accepts good framing and flags each kind of bad framing."""
    import struct

    def frame(content):
        return b"\x95" + struct.pack("<Q", len(content)) + content

    big = b"B" + struct.pack("<I", 70000) + b"x" * 70000
    op257 = b"C\xff" + b"x" * 255
    good = {
        "tail": b"\x80\x04" + frame(b"(NNNN") + big + b"0.",
        "full": b"\x80\x04" + frame(op257 * 256) + frame(b"NN0."),
        "tiny": b"\x80\x04N.",
    }
    bad = {
        "straddle": b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00(NNC\x03abc.",
        "large inside": b"\x80\x04" + frame(big + b"."),
        "unframed run": b"\x80\x04(NNNNN" + frame(b"NNNN."),
        "early commit": b"\x80\x04" + frame(b"(NNNN") + frame(b"NNNN0."),
        "late commit": b"\x80\x04" + frame(op257 * 257) + frame(b"NN0."),
        "tiny frame": b"\x80\x04" + frame(b"N.")[:-2] + b"N.",
    }
    ok = True
    for name, data in good.items():
        problems = check_frames(data)
        if problems:
            print("selftest: good stream %r flagged: %s" % (name, problems))
            ok = False
    for name, data in bad.items():
        if not check_frames(data):
            print("selftest: bad stream %r not flagged" % name)
            ok = False
    print("selftest " + ("passed" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


def main():
    if sys.argv[1] == "--selftest":
        selftest()
    failures = 0
    checked = 0
    with open(sys.argv[1]) as f:
        lines = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    for orig_path, new_path, proto in lines:
        proto = int(proto)
        with open(orig_path, "rb") as f:
            orig = f.read()
        with open(new_path, "rb") as f:
            new = f.read()
        problems = []
        try:
            a = pickle.loads(orig)
            b = pickle.loads(new)
            da = pickle.dumps(a, proto)
            db = pickle.dumps(b, proto)
            if da != db:
                problems.append("loaded objects differ")
            # the pure-Python unpickler too
            if pickle.dumps(pickle._loads(new), proto) != da:
                problems.append("pure-Python unpickler loads something else")
        except Exception as e:  # noqa: BLE001
            problems.append("load failed: %r" % (e,))
        try:
            pickletools.dis(new, out=io.StringIO())
        except Exception as e:  # noqa: BLE001
            problems.append("pickletools.dis failed: %r" % (e,))
        if proto >= 4:
            try:
                problems.extend(check_frames(new))
            except Exception as e:  # noqa: BLE001
                problems.append("frame check failed: %r" % (e,))
        for p in problems:
            print("%s: %s" % (new_path, p))
        failures += bool(problems)
        checked += 1
    print("checked %d rewritten pickles, %d failed" % (checked, failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
