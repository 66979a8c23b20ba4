# Writes a varied set of plain stdlib pickles for the differential tests of pickle-codec.
#
# Usage: python gen_plain_pickles.py OUTDIR
#
# Runs under Python 2.7 and 3.x. For every object group and protocol it writes, for both the C
# pickler and the pure-Python one:
#   OUTDIR/<tag>-<group>-p<proto>.pkl   the pickle
#   OUTDIR/<tag>-<group>-p<proto>.ops   its ops as pickletools.genops sees them, one per line:
#                                       "<pos>\t<NAME>\t<arg>" where arg is, for integer ops, the
#                                       decimal value (bool:0 / bool:1 for I00 / I01), for float ops
#                                       "f:" + the big-endian IEEE hex (or f:nan), for STRING "b:" + hex of
#                                       the decoded bytes, for UNICODE "u:" + hex of its UTF-8
#                                       (surrogatepass), else "-".
# <tag> is py3c, py3py, py2c or py2py.
from __future__ import print_function

import binascii
import collections
import datetime
import decimal
import fractions
import os
import pickle
import pickletools
import struct
import sys

PY2 = sys.version_info[0] == 2
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)

if PY2:
    import cPickle

    text_type = unicode  # noqa: F821
    int_types = (int, long)  # noqa: F821
else:
    text_type = str
    int_types = (int,)


class OldStyle:  # an old-style class in Python 2: INST / OBJ opcodes
    def __init__(self):
        self.a = 1
        self.b = [u"x"]


class NewStyle(object):
    def __init__(self):
        self.c = 2.5


def U(s):
    """A text literal in both versions (escapes decoded by the unicode_escape codec)."""
    return s.encode("ascii").decode("unicode_escape")


def groups():
    ints = [0, 1, -1, 127, 128, 255, 256, 65535, 65536, -2 ** 31, 2 ** 31 - 1, 2 ** 31,
            -2 ** 31 - 1, 2 ** 63 - 1, 2 ** 63, -2 ** 63, -2 ** 63 - 1, 2 ** 64, 10 ** 100,
            -(10 ** 100), 2 ** 2100, -(3 ** 1500), 7 ** 7000]
    floats = [0.0, -0.0, 1.5, -2.25, 0.1, 1e300, 1e-300, 5e-324, 1e16, 123456789.125,
              float("inf"), float("-inf"), float("nan")]
    strs = [U(""), U("a"), U("\\u00e9t\\u00e9"), U("\\u1234\\uabcd"), U("\\U0001f600"),
            U("\\ud800"), U("x\\udc80y"), U("\\ud83d\\ude00"), U("line\\nbreak"),
            U("back\\\\slash \\\\u0041"), U("\\r\\x00\\x1a\\t"), U("quote' and \""),
            U("\\x80\\xff"), U("y") * 300]
    byts = [b"", b"\x00\xff", bytes(bytearray(range(256))), b"x" * 300, b"'\"\\\n"]
    containers = [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), tuple(range(30)), [], [1],
                  list(range(2000)), {}, {1: 2}, dict((i, str(i)) for i in range(1500)),
                  set(), set([1, 2, 3]), frozenset(), frozenset([4, 5]),
                  set(range(1200)), [[1, [2, (3, {4: [5]})]]], {(1, 2): frozenset([3])}]
    shared_inner = [1, 2]
    shared = [shared_inner, shared_inner, (shared_inner,), {"k": shared_inner}]
    rec_list = [1]
    rec_list.append(rec_list)
    rec_dict = {}
    rec_dict["self"] = rec_dict
    rec_tuple_list = []
    rec_tuple = (rec_tuple_list,)
    rec_tuple_list.append(rec_tuple)
    recursive = [rec_list, rec_dict, rec_tuple]
    copyreg_objs = [collections.OrderedDict([("b", 1), ("a", [2])]),
                    datetime.datetime(2020, 1, 2, 3, 4, 5, 6), datetime.date(1999, 12, 31),
                    datetime.timedelta(days=3, seconds=7), decimal.Decimal("3.14159"),
                    fractions.Fraction(3, 7), complex(1.5, -2), collections.deque([1, 2]),
                    collections.defaultdict(list, {"a": [1]}), bytearray(b"abc")]
    if not PY2:
        copyreg_objs.append(range(1, 10, 2))
    large = [b"L" * 70000, b"M" * (1024 * 1024 + 17), U("s") * 70000, bytearray(b"B" * 66000),
             [b"a" * 30000, b"b" * 40000, 1, b"c" * 65536, U("\\u00e9") * 40000],
             [b"q" * 200 for _ in range(700)]]
    g = [
        ("ints", ints, 0),
        ("floats", floats, 0),
        ("strs", strs, 0),
        ("bytes", byts, 0),
        ("containers", containers, 0),
        ("shared", shared, 0),
        ("recursive", recursive, 0),
        ("copyreg", copyreg_objs, 0),
        ("large", large, 0),
        ("bool_none", [True, False, None, [True, None]], 0),
    ]
    if PY2:
        g.append(("py2", [OldStyle(), NewStyle(), long(5), long(-(2 ** 70)),  # noqa: F821
                          b"\x00\xff plain str", U("unicode"), b"z" * 70000], 0))
    else:
        pb = [pickle.PickleBuffer(b"readonly buffer"), pickle.PickleBuffer(bytearray(b"rw")),
              pickle.PickleBuffer(b"R" * 70000), pickle.PickleBuffer(bytearray(b"W" * 70000))] \
            if hasattr(pickle, "PickleBuffer") else []
        if pb:
            g.append(("picklebuffer", pb, 5))
    return g


def hexlify(b):
    return binascii.hexlify(b).decode("ascii")


def surrogatepass_utf8_char(c):
    cp = ord(c)
    if 0xD800 <= cp <= 0xDFFF:
        return bytes(bytearray([0xE0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)]))
    return c.encode("utf-8")


INT_OPS = ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4")
FLOAT_OPS = ("FLOAT", "BINFLOAT")


def describe(op, arg):
    name = op.name
    if name in INT_OPS:
        if isinstance(arg, bool):
            return "bool:%d" % int(arg)
        return str(arg).rstrip("L")
    if name in FLOAT_OPS:
        if arg != arg:  # NaN: its sign bit differs between Python versions
            return "f:nan"
        return "f:" + hexlify(struct.pack(">d", arg))
    if name == "STRING":
        if not isinstance(arg, bytes):
            arg = arg.encode("latin-1")
        return "b:" + hexlify(arg)
    if name == "UNICODE" and len(arg) <= 100000:
        if PY2:
            # Python 2's UTF-8 encoder joins surrogate pairs; encode code point by code point
            # (this needs a wide build, where each code point is one character).
            return "u:" + hexlify(b"".join(surrogatepass_utf8_char(c) for c in arg))
        return "u:" + hexlify(arg.encode("utf-8", "surrogatepass"))
    return "-"


def main():
    out = sys.argv[1]
    if PY2:
        picklers = [("py2c", cPickle.dumps), ("py2py", pickle.dumps)]
    else:
        picklers = [("py3c", pickle.dumps), ("py3py", pickle._dumps)]
    count = 0
    for name, obj, min_proto in groups():
        for proto in range(min_proto, pickle.HIGHEST_PROTOCOL + 1):
            for tag, dumps in picklers:
                data = dumps(obj, proto)
                base = os.path.join(out, "%s-%s-p%d" % (tag, name, proto))
                with open(base + ".pkl", "wb") as f:
                    f.write(data)
                with open(base + ".ops", "w") as f:
                    for op, arg, pos in pickletools.genops(data):
                        f.write("%d\t%s\t%s\n" % (pos, op.name, describe(op, arg)))
                count += 1
    print("wrote %d pickles" % count)


if __name__ == "__main__":
    main()
