"""Behaviour probes for the catalog objects (catalog.py).  STANDARD LIBRARY ONLY.

Must import and run under ``python -I -S`` on CPython 3.8-3.13 with no
serializer installed.  ``PROBES[name](obj)`` takes the object loaded from a
pickle of catalog object ``name`` and returns a JSON-able, deterministic
description of its behaviour: results of calls on fixed inputs, names,
defaults, class relations, identity checks between parts of the same pickle.
No ids, addresses or hash-order-dependent output.

Every individual check goes through ``t()``, so one failing check becomes
``{"error": "TypeName: message"}`` in its slot instead of hiding the others.
Checks deliberately leave out what only the original serializer can
reproduce (see corpus/README.md, "Left out of the probes").
"""

import abc
import builtins
import collections.abc
import dataclasses
import enum
import inspect
import logging
import math
import os.path
import re
import sys
import types
import typing

PROBES = {}

_ADDR = re.compile(r"0x[0-9a-fA-F]+")


def sanitize(text):
    return _ADDR.sub("0x?", text)


def err(exc):
    return "%s: %s" % (type(exc).__name__, sanitize(str(exc)))


def norm(x, _depth=0):
    """Convert to canonical JSON-able data (tuples -> lists, sets sorted)."""
    if _depth > 30:
        return "<too deep>"
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return "float:" + repr(x)
        return float(x)
    if isinstance(x, (list, tuple)):
        return [norm(v, _depth + 1) for v in x]
    if isinstance(x, (set, frozenset)):
        items = [norm(v, _depth + 1) for v in x]
        return sorted(items, key=lambda v: repr(v))
    if isinstance(x, dict):
        return {(k if isinstance(k, str) else "key:" + sanitize(repr(k))): norm(v, _depth + 1)
                for k, v in x.items()}
    return "repr:" + sanitize(repr(x))


def t(fn, *args, **kwargs):
    """Run one check; exceptions become {"error": ...}."""
    try:
        return norm(fn(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - the exception is the behaviour
        return {"error": err(exc)}


def probe(name):
    def deco(fn):
        PROBES[name] = fn
        return fn

    return deco


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def r(x):
    return sanitize(repr(x))


def func_meta(f):
    code = f.__code__
    return {
        "type": t(lambda: type(f).__name__),
        "name": t(lambda: f.__name__),
        "qualname": t(lambda: f.__qualname__),
        "module": t(lambda: f.__module__),
        "doc": t(lambda: f.__doc__),
        "defaults": t(lambda: f.__defaults__),
        "kwdefaults": t(lambda: f.__kwdefaults__),
        "annotations": t(lambda: r(f.__annotations__)),
        "dict_keys": t(lambda: sorted(vars(f))),
        "co_name": t(lambda: code.co_name),
        "co_argcount": t(lambda: code.co_argcount),
        "co_posonlyargcount": t(lambda: code.co_posonlyargcount),
        "co_kwonlyargcount": t(lambda: code.co_kwonlyargcount),
        "co_varnames": t(lambda: code.co_varnames),
        "co_freevars": t(lambda: code.co_freevars),
        "co_cellvars": t(lambda: code.co_cellvars),
        "co_flags": t(lambda: code.co_flags),
        "closure_len": t(lambda: 0 if f.__closure__ is None else len(f.__closure__)),
        "signature": t(lambda: str(inspect.signature(f))),
    }


def class_meta(c):
    return {
        "name": t(lambda: c.__name__),
        "qualname": t(lambda: c.__qualname__),
        "module": t(lambda: c.__module__),
        "doc": t(lambda: c.__doc__),
        "metaclass": t(lambda: type(c).__name__),
        "mro": t(lambda: [k.__qualname__ for k in c.__mro__]),
        "public_attrs": t(lambda: sorted(k for k in vars(c) if not k.startswith("_"))),
    }


def run_coroutine(coro):
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("coroutine did not finish synchronously")


def drain(gen):
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return {"items": items, "return": stop.value}


def drain_async(agen):
    items = []
    while True:
        step = agen.__anext__()
        try:
            step.send(None)
        except StopIteration as stop:
            items.append(stop.value)
        except StopAsyncIteration:
            return items


def cells(f):
    return [c.cell_contents for c in (f.__closure__ or ())]


def hint_info(h):
    return {
        "repr": t(lambda: r(h)),
        "type": t(lambda: type(h).__name__),
        "origin": t(lambda: r(typing.get_origin(h))),
        "args": t(lambda: [r(a) for a in typing.get_args(h)]),
    }


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------


@probe("lambda_simple")
def _(f):
    return {"meta": func_meta(f), "calls": [t(f, 0), t(f, 5), t(f, -3), t(f, 2.5), t(f, "a")]}


@probe("lambda_defaults")
def _(f):
    return {"meta": func_meta(f), "calls": [t(f, 1), t(f, 1, 2, 3, 4, z=9, q=1, a2=2), t(f)]}


@probe("closure_one_cell")
def _(f):
    return {"meta": func_meta(f), "calls": [t(f, 10), t(f, -5)], "cells": t(cells, f)}


@probe("closure_multi_cell")
def _(f):
    return {"meta": func_meta(f), "calls": [t(f, 2), t(f, -1)], "cells": t(cells, f)}


@probe("closure_empty_cell")
def _(f):
    return {
        "meta": func_meta(f),
        "call": t(f),
        "cell": t(lambda: f.__closure__[0].cell_contents),
        "cell_type": t(lambda: type(f.__closure__[0]).__name__),
    }


@probe("closure_assigned_later")
def _(f):
    return {"meta": func_meta(f), "calls": [t(f, 2), t(f, "x")], "cells": t(cells, f)}


@probe("closure_recursive")
def _(f):
    return {
        "meta": func_meta(f),
        "calls": [t(f, 1), t(f, 5), t(f, 10)],
        "cell_is_self": t(lambda: f.__closure__[0].cell_contents is f),
    }


@probe("closure_mutual")
def _(obj):
    even, odd = obj
    return {
        "even_meta": func_meta(even),
        "odd_meta": func_meta(odd),
        "calls": [t(even, 10), t(odd, 7), t(even, 3), t(odd, 0)],
        "even_refs_odd": t(lambda: even.__closure__[0].cell_contents is odd),
        "odd_refs_even": t(lambda: odd.__closure__[0].cell_contents is even),
    }


@probe("closure_nested")
def _(f):
    return {"meta": func_meta(f), "calls": [t(f, 9), t(f, 0)], "cells": t(cells, f)}


@probe("closure_counter")
def _(f):
    return {"meta": func_meta(f), "calls": [t(f), t(f), t(f)], "cells_after": t(cells, f)}


@probe("func_globals")
def _(f):
    return {"meta": func_meta(f), "calls": [t(f, 5), t(f, -8, "/x/y.tar.gz"), t(f, 0)]}


@probe("func_signature")
def _(f):
    return {
        "meta": func_meta(f),
        "calls": [t(f, 1), t(f, 1, 5, 6, 7, c=8, z=9), t(f, a=0, d=1), t(f)],
    }


@probe("func_attrs")
def _(f):
    return {
        "meta": func_meta(f),
        "calls": [t(f, 1), t(f, 5)],
        "increment": t(lambda: f.increment),
        "tags": t(lambda: f.tags),
        "meta_attr": t(lambda: f.meta),
    }


@probe("func_module_override")
def _(f):
    return {"meta": func_meta(f), "calls": [t(f, 3)]}


@probe("func_nested")
def _(f):
    return {"meta": func_meta(f), "calls": [t(f, 3), t(f, 0)]}


@probe("func_factory")
def _(f):
    return {
        "meta": func_meta(f),
        "calls": [t(lambda: f(3)(4)), t(lambda: f("ab")(2))],
        "inner_qualname": t(lambda: f(3).__qualname__),
        "inner_cells": t(lambda: cells(f(3))),
    }


@probe("func_decorated")
def _(f):
    return {
        "meta": func_meta(f),
        "calls": [t(f, 2), t(f, "z")],
        "wrapped_call": t(lambda: f.__wrapped__(2)),
        "wrapped_qualname": t(lambda: f.__wrapped__.__qualname__),
        "wrapped_is_cell": t(lambda: f.__closure__[0].cell_contents is f.__wrapped__),
    }


@probe("func_lru_cached")
def _(f):
    return {"type": t(lambda: type(f).__name__), "calls": [t(f, 2), t(f, 2)],
            "name": t(lambda: f.__name__)}


@probe("generator_func")
def _(f):
    return {
        "meta": func_meta(f),
        "is_genfunc": t(inspect.isgeneratorfunction, f),
        "run": t(lambda: drain(f(5))),
        "run0": t(lambda: drain(f(0))),
    }


@probe("generator_delegating")
def _(f):
    return {"meta": func_meta(f), "is_genfunc": t(inspect.isgeneratorfunction, f),
            "run": t(lambda: drain(f(3)))}


@probe("async_func")
def _(f):
    return {
        "meta": func_meta(f),
        "is_coro": t(inspect.iscoroutinefunction, f),
        "calls": [t(lambda: run_coroutine(f(2))), t(lambda: run_coroutine(f(2, b=5)))],
    }


@probe("async_generator")
def _(f):
    return {
        "meta": func_meta(f),
        "is_asyncgen": t(inspect.isasyncgenfunction, f),
        "run": t(lambda: drain_async(f(3))),
    }


@probe("code_object")
def _(code):
    def run():
        fn = types.FunctionType(code, {"__builtins__": builtins})
        inner = fn(2, 1, "lbl", (9,))
        return [inner(4), inner.__qualname__]

    return {
        "type": t(lambda: type(code).__name__),
        "co_name": t(lambda: code.co_name),
        "co_argcount": t(lambda: code.co_argcount),
        "co_varnames": t(lambda: code.co_varnames),
        "co_cellvars": t(lambda: code.co_cellvars),
        "co_freevars": t(lambda: code.co_freevars),
        "co_filename": t(lambda: os.path.basename(code.co_filename)),
        "co_firstlineno": t(lambda: code.co_firstlineno),
        "co_consts_simple": t(lambda: [c for c in code.co_consts
                                       if c is None or isinstance(c, (str, int, float))]),
        "co_consts_code_names": t(lambda: [c.co_name for c in code.co_consts
                                           if isinstance(c, types.CodeType)]),
        "run": t(run),
    }


@probe("cell_object")
def _(c):
    return {"type": t(lambda: type(c).__name__), "contents": t(lambda: c.cell_contents)}


@probe("partial_lambda")
def _(p):
    return {
        "type": t(lambda: type(p).__name__),
        "calls": [t(p, 3), t(p, 3, d=1), t(p)],
        "args": t(lambda: p.args),
        "keywords": t(lambda: p.keywords),
        "func_name": t(lambda: p.func.__name__),
        "func_defaults": t(lambda: p.func.__defaults__),
    }


@probe("bound_method")
def _(m):
    return {
        "type": t(lambda: type(m).__name__),
        "call": t(m),
        "self_type": t(lambda: type(m.__self__).__name__),
        "self_value": t(lambda: m.__self__.value),
        "func_qualname": t(lambda: m.__func__.__qualname__),
        "func_is_class_attr": t(lambda: m.__func__ is type(m.__self__).doubled),
    }


@probe("bound_classmethod")
def _(m):
    return {
        "type": t(lambda: type(m).__name__),
        "call": t(lambda: repr(m(4))),
        "self_name": t(lambda: m.__self__.__name__),
        "result_type_is_self": t(lambda: type(m(1)) is m.__self__),
    }


# ---------------------------------------------------------------------------
# Classes and instances
# ---------------------------------------------------------------------------


@probe("class_basic")
def _(C):
    def setter():
        obj = C(1)
        obj.half = 4
        return obj.value

    return {
        "meta": class_meta(C),
        "annotations": t(lambda: r(C.__annotations__)),
        "kind": t(lambda: C.kind),
        "limit": t(lambda: C.limit),
        "doubled": t(lambda: C(3).doubled()),
        "classmethod": t(lambda: repr(C.make(1))),
        "classmethod_type": t(lambda: type(C.make(1)) is C),
        "staticmethod": t(lambda: C.static_add(2, 3)),
        "property": t(lambda: C(5).half),
        "property_setter": t(setter),
        "repr": t(lambda: repr(C(7))),
        "eq": t(lambda: [C(2) == C(2), C(2) == C(3), C(2) == 2]),
        "hash_none": t(lambda: C.__hash__ is None),
        "unhashable": t(lambda: hash(C(1))),
        "isinstance": t(lambda: isinstance(C(1), C)),
        "kinds": t(lambda: [type(vars(C)[k]).__name__ for k in ("make", "static_add", "half", "doubled")]),
    }


@probe("class_slots")
def _(C):
    def set_other():
        o = C(1, 2)
        o.z = 3
        return "set"

    return {
        "meta": class_meta(C),
        "slots": t(lambda: C.__slots__),
        "total": t(lambda: C(1, 2).total()),
        "attrs": t(lambda: [C(5, 6).x, C(5, 6).y]),
        "has_dict": t(lambda: hasattr(C(1, 2), "__dict__")),
        "set_other": t(set_other),
        "slot_descr": t(lambda: type(vars(C)["x"]).__name__),
    }


@probe("class_metaclass")
def _(C):
    return {
        "meta": class_meta(C),
        "metaclass_mro": t(lambda: [k.__name__ for k in type(C).__mro__]),
        "describe": t(lambda: C.describe()),
        "added_by_meta": t(lambda: C.added_by_meta),
        "hello": t(lambda: C().hello()),
        "is_type": t(lambda: isinstance(C, type)),
    }


@probe("class_func_attrs")
def _(C):
    return {
        "meta": class_meta(C),
        "ops_add": t(lambda: C.ops["add"](2, 3)),
        "ops_mul": t(lambda: C.ops["mul"](2, 3)),
        "ops_keys": t(lambda: sorted(C.ops)),
        "default_op": t(lambda: C.default_op(3, 4)),
        "default_op_bound": t(lambda: C().default_op(4)),
        "handler": t(lambda: C.handler(5)),
        "transform": t(lambda: C.transform("ab")),
        "shared_func": t(lambda: C.ops["mul"] is C.default_op),
        "ops_mul_name": t(lambda: C.ops["mul"].__name__),
    }


@probe("class_abc_register")
def _(obj):
    Shape, Square, Virtual = obj
    return {
        "shape": class_meta(Shape),
        "square": class_meta(Square),
        "virtual": class_meta(Virtual),
        "virtual_subclass": t(lambda: issubclass(Virtual, Shape)),
        "virtual_instance": t(lambda: isinstance(Virtual(), Shape)),
        "square_subclass": t(lambda: issubclass(Square, Shape)),
        "square_is_abc": t(lambda: issubclass(Square, abc.ABC)),
        "not_registered": t(lambda: issubclass(int, Shape)),
        "area": t(lambda: Square(3).area()),
        "describe": t(lambda: Square(3).describe()),
        "virtual_area": t(lambda: Virtual().area()),
        "abstract": t(lambda: sorted(Shape.__abstractmethods__)),
        "square_abstract": t(lambda: sorted(Square.__abstractmethods__)),
        "instantiate_abstract": t(lambda: Shape()),
    }


@probe("class_total_ordering")
def _(V):
    a, b = V(1, 2), V(1, 10)
    return {
        "meta": class_meta(V),
        "cmp": t(lambda: [a < b, a <= b, a > b, a >= b, a == V(1, 2), a != b]),
        "sorted": t(lambda: [repr(v) for v in sorted([V(2, 0), V(1, 5), V(1, 0)])]),
        "max": t(lambda: repr(max(V(0, 9), V(3, 1), V(3, 0)))),
    }


@probe("class_super")
def _(C):
    return {
        "meta": class_meta(C),
        "greet": t(lambda: C().greet()),
        "class_cell": t(lambda: C.greet.__closure__[0].cell_contents is C),
        "freevars": t(lambda: C.greet.__code__.co_freevars),
        "base_greet": t(lambda: C.__mro__[1]().greet()),
    }


@probe("class_local")
def _(C):
    return {"meta": class_meta(C), "method": t(lambda: C().method()), "tag": t(lambda: C.tag)}


@probe("class_exception")
def _(obj):
    E, e = obj

    def raise_catch():
        try:
            raise E(1, "x")
        except ValueError as caught:
            return [str(caught), caught.code, type(caught) is E]

    return {
        "meta": class_meta(E),
        "str": t(lambda: str(e)),
        "code": t(lambda: e.code),
        "args": t(lambda: e.args),
        "instance_of": t(lambda: [isinstance(e, E), isinstance(e, ValueError), isinstance(e, Exception)]),
        "same_class": t(lambda: type(e) is E),
        "raise_catch": t(raise_catch),
    }


@probe("instance_dict")
def _(i):
    return {
        "type": t(lambda: type(i).__qualname__),
        "vars": t(lambda: sorted(vars(i).items())),
        "doubled": t(lambda: i.doubled()),
        "half": t(lambda: i.half),
        "repr": t(lambda: repr(i)),
        "eq_new": t(lambda: i == type(i)(10)),
        "class_kind": t(lambda: type(i).kind),
    }


@probe("instance_slots")
def _(i):
    return {
        "type": t(lambda: type(i).__qualname__),
        "attrs": t(lambda: [i.x, i.y]),
        "total": t(lambda: i.total()),
        "slots": t(lambda: type(i).__slots__),
        "has_dict": t(lambda: hasattr(i, "__dict__")),
    }


@probe("instance_setstate_inherited")
def _(i):
    return {
        "type": t(lambda: type(i).__qualname__),
        "mro": t(lambda: [k.__qualname__ for k in type(i).__mro__]),
        "vars": t(lambda: sorted(vars(i).items())),
        "combined": t(lambda: i.combined()),
        "restored_version": t(lambda: i.restored_version),
    }


@probe("instance_reduce_inherited")
def _(i):
    return {
        "type": t(lambda: type(i).__qualname__),
        "mro": t(lambda: [k.__qualname__ for k in type(i).__mro__]),
        "args": t(lambda: i.args),
        "product": t(lambda: i.product()),
        "vars": t(lambda: sorted(vars(i))),
    }


@probe("instance_metaclass")
def _(i):
    return {
        "type": t(lambda: type(i).__qualname__),
        "metaclass": t(lambda: type(type(i)).__name__),
        "hello": t(lambda: i.hello()),
        "describe": t(lambda: type(i).describe()),
    }


@probe("instance_cycle")
def _(a):
    return {
        "type": t(lambda: type(a).__qualname__),
        "names": t(lambda: [a.name, a.next.name, a.next.next.name]),
        "cycle": t(lambda: a.next.next is a),
        "same_class": t(lambda: type(a.next) is type(a)),
    }


# ---------------------------------------------------------------------------
# Enums, dataclasses, namedtuples
# ---------------------------------------------------------------------------


@probe("enum_class")
def _(C):
    return {
        "meta": class_meta(C),
        "members": t(lambda: [[m.name, m.value] for m in C]),
        "member_names": t(lambda: list(C.__members__)),
        "by_value": t(lambda: C(2) is C.GREEN),
        "by_name": t(lambda: C["RED"] is C.RED),
        "describe": t(lambda: C.BLUE.describe()),
        "isinstance": t(lambda: isinstance(C.RED, C)),
        "is_enum": t(lambda: issubclass(C, enum.Enum)),
        "len": t(lambda: len(C)),
        "repr": t(lambda: repr(C.RED)),
        "member_type": t(lambda: type(C.RED) is C),
        "bad_value": t(lambda: C(99)),
    }


@probe("enum_member")
def _(m):
    return {
        "name": t(lambda: m.name),
        "value": t(lambda: m.value),
        "type": t(lambda: type(m).__qualname__),
        "identity": t(lambda: m is type(m)(2)),
        "by_name": t(lambda: type(m)["GREEN"] is m),
        "repr": t(lambda: repr(m)),
        "siblings": t(lambda: [x.name for x in type(m)]),
        "describe": t(lambda: m.describe()),
    }


@probe("intenum_class")
def _(C):
    return {
        "meta": class_meta(C),
        "members": t(lambda: [[m.name, int(m)] for m in C]),
        "arith": t(lambda: C.HIGH + 1),
        "eq_int": t(lambda: C.HIGH == 3),
        "by_value": t(lambda: C(2) is C.MID),
        "is_int": t(lambda: isinstance(C.LOW, int)),
        "order": t(lambda: [m.name for m in sorted([C.HIGH, C.LOW, C.MID])]),
        "repr": t(lambda: repr(C.LOW)),
    }


@probe("flag_class")
def _(obj):
    F, combo = obj
    return {
        "meta": class_meta(F),
        "members": t(lambda: [[m.name, m.value] for m in F.__members__.values()]),
        "combo_value": t(lambda: combo.value),
        "combo_type": t(lambda: type(combo) is F),
        "combo_eq": t(lambda: combo == F.R | F.W),
        "combo_identity": t(lambda: combo is F(6)),
        "contains": t(lambda: [F.R in combo, F.X in combo]),
        "and": t(lambda: [bool(combo & F.X), (combo & F.W).value]),
        "repr": t(lambda: repr(combo)),
        "by_value": t(lambda: F(4) is F.R),
    }


@probe("dataclass_basic")
def _(obj):
    C, inst = obj
    return {
        "meta": class_meta(C),
        "is_dataclass": t(lambda: [dataclasses.is_dataclass(C), dataclasses.is_dataclass(inst)]),
        "fields": t(lambda: [f.name for f in dataclasses.fields(C)]),
        "field_defaults": t(lambda: [[f.name, f.default is dataclasses.MISSING,
                                      f.default_factory is list] for f in dataclasses.fields(C)]),
        "repr": t(lambda: repr(inst)),
        "label": t(lambda: inst.label()),
        "eq": t(lambda: [C("n") == C("n"), C("n") == C("m"), inst == C("r", 2, ["x"])]),
        "fresh_factory": t(lambda: C("n").tags is not C("n").tags),
        "default_instance": t(lambda: repr(C("d"))),
        "asdict": t(lambda: dataclasses.asdict(inst)),
        "params": t(lambda: [C.__dataclass_params__.eq, C.__dataclass_params__.frozen]),
        "init_sig": t(lambda: str(inspect.signature(C))),
        "instance_type": t(lambda: type(inst) is C),
    }


@probe("dataclass_frozen")
def _(obj):
    C, p = obj

    def mutate():
        p.x = 10
        return p.x

    return {
        "meta": class_meta(C),
        "fields": t(lambda: [f.name for f in dataclasses.fields(C)]),
        "repr": t(lambda: repr(p)),
        "norm1": t(lambda: p.norm1()),
        "mutate": t(mutate),
        "hash_eq": t(lambda: hash(p) == hash(C(3, -4))),
        "eq": t(lambda: [p == C(3, -4), p == C(3)]),
        "frozen": t(lambda: C.__dataclass_params__.frozen),
        "replace": t(lambda: repr(dataclasses.replace(p, y=1))),
        "instance_type": t(lambda: type(p) is C),
    }


@probe("namedtuple_typing")
def _(obj):
    C, p = obj
    return {
        "meta": class_meta(C),
        "fields": t(lambda: C._fields),
        "field_defaults": t(lambda: C._field_defaults),
        "annotations": t(lambda: r(C.__annotations__)),
        "repr": t(lambda: repr(p)),
        "asdict": t(lambda: dict(p._asdict())),
        "dist2": t(lambda: p.dist2()),
        "replace": t(lambda: repr(p._replace(x=1))),
        "is_tuple": t(lambda: [isinstance(p, tuple), tuple(p)]),
        "new": t(lambda: repr(C(9))),
        "instance_type": t(lambda: type(p) is C),
    }


@probe("namedtuple_collections")
def _(obj):
    C, p = obj
    return {
        "meta": class_meta(C),
        "fields": t(lambda: C._fields),
        "field_defaults": t(lambda: C._field_defaults),
        "repr": t(lambda: repr(p)),
        "new": t(lambda: repr(C(5, 6))),
        "make": t(lambda: repr(C._make([7, 8, 9]))),
        "index": t(lambda: [p[0], p[2], p.y]),
        "instance_type": t(lambda: type(p) is C),
    }


# ---------------------------------------------------------------------------
# typing
# ---------------------------------------------------------------------------


@probe("typevar")
def _(obj):
    def info(tv):
        return {
            "repr": t(lambda: r(tv)),
            "name": t(lambda: tv.__name__),
            "bound": t(lambda: r(tv.__bound__)),
            "constraints": t(lambda: [r(c) for c in tv.__constraints__]),
            "co": t(lambda: [tv.__covariant__, tv.__contravariant__]),
            "type": t(lambda: type(tv).__name__),
        }

    return {"vars": [info(tv) for tv in obj],
            "bound_is_class": t(lambda: obj[2].__bound__.__name__)}


@probe("generic_class")
def _(obj):
    Box, b = obj
    return {
        "meta": class_meta(Box),
        "get": t(lambda: b.get()),
        "instance_type": t(lambda: type(b) is Box),
        "parameters": t(lambda: r(Box.__parameters__)),
        "orig_bases": t(lambda: r(Box.__orig_bases__)),
        "subscript": t(lambda: r(Box[int])),
        "is_generic": t(lambda: issubclass(Box, typing.Generic)),
        "hints": t(lambda: r(typing.get_type_hints(Box.get))),
        "param_is_hint_var": t(lambda: Box.__parameters__[0] is typing.get_type_hints(Box.get)["return"]),
    }


for _hint_name in ("hint_list_int", "hint_dict_str_t", "hint_callable", "hint_literal",
                   "hint_final", "hint_classvar"):
    PROBES[_hint_name] = hint_info


@probe("hint_optional_union")
def _(obj):
    return [hint_info(h) for h in obj]


@probe("hint_tuple")
def _(obj):
    return [hint_info(h) for h in obj]


@probe("hint_generic_alias")
def _(h):
    info = hint_info(h)
    info["origin_name"] = t(lambda: typing.get_origin(h).__name__)
    info["call"] = t(lambda: h(5).get())
    info["call_type"] = t(lambda: type(h(5)) is typing.get_origin(h))
    return info


# ---------------------------------------------------------------------------
# Builtin-ish objects
# ---------------------------------------------------------------------------


@probe("dict_keys")
def _(v):
    return {
        "type": t(lambda: type(v).__name__),
        "abc": t(lambda: isinstance(v, collections.abc.KeysView)),
        "items": t(lambda: sorted(v)),
        "order": t(lambda: list(v)),
        "len": t(lambda: len(v)),
        "set_ops": t(lambda: sorted(v & {"a", "z"})),
        "contains": t(lambda: ["a" in v, "z" in v]),
    }


@probe("dict_values")
def _(v):
    return {
        "type": t(lambda: type(v).__name__),
        "abc": t(lambda: isinstance(v, collections.abc.ValuesView)),
        "items": t(lambda: sorted(v)),
        "order": t(lambda: list(v)),
        "len": t(lambda: len(v)),
    }


@probe("dict_items")
def _(v):
    return {
        "type": t(lambda: type(v).__name__),
        "abc": t(lambda: isinstance(v, collections.abc.ItemsView)),
        "items": t(lambda: sorted(v)),
        "order": t(lambda: list(v)),
        "len": t(lambda: len(v)),
        "contains": t(lambda: [("a", 1) in v, ("a", 2) in v]),
    }


@probe("mappingproxy")
def _(m):
    def setitem():
        m["new"] = 1
        return "set"

    return {
        "type": t(lambda: type(m).__name__),
        "items": t(lambda: sorted(m.items())),
        "get": t(lambda: m["j"]),
        "setitem": t(setitem),
    }


@probe("module_math")
def _(m):
    return {
        "type": t(lambda: type(m).__name__),
        "name": t(lambda: m.__name__),
        "sqrt": t(lambda: m.sqrt(16.0)),
        "pi": t(lambda: round(m.pi, 6)),
        "is_sys_module": t(lambda: m is sys.modules["math"]),
    }


@probe("module_os_path")
def _(m):
    return {
        "type": t(lambda: type(m).__name__),
        "name": t(lambda: m.__name__),
        "join": t(lambda: m.join("a", "b")),
        "is_os_path": t(lambda: m is os.path),
    }


@probe("module_dynamic")
def _(m):
    def rebind():
        m.x = 100
        try:
            return m.f(1)
        finally:
            m.x = 41

    return {
        "type": t(lambda: type(m).__name__),
        "name": t(lambda: m.__name__),
        "doc": t(lambda: m.__doc__),
        "public": t(lambda: sorted(k for k in vars(m) if not k.startswith("_"))),
        "x": t(lambda: m.x),
        "items": t(lambda: m.items),
        "f": t(lambda: m.f(1)),
        "f_module": t(lambda: m.f.__module__),
        "K": t(lambda: m.K().m()),
        "K_module": t(lambda: m.K.__module__),
        "f_globals_is_module_dict": t(lambda: m.f.__globals__ is vars(m)),
        "f_after_rebind": t(rebind),
    }


@probe("logger_named")
def _(lg):
    return {
        "type": t(lambda: type(lg).__name__),
        "name": t(lambda: lg.name),
        "is_registered": t(lambda: lg is logging.getLogger("depickle.corpus")),
    }


@probe("logger_root")
def _(lg):
    return {
        "type": t(lambda: type(lg).__name__),
        "name": t(lambda: lg.name),
        "is_root": t(lambda: lg is logging.getLogger()),
    }


@probe("singletons")
def _(obj):
    return {
        "len": t(lambda: len(obj)),
        "ellipsis": t(lambda: obj[0] is Ellipsis),
        "notimplemented": t(lambda: obj[1] is NotImplemented),
        "nonetype": t(lambda: obj[2] is type(None)),
        "nonetype_call": t(lambda: obj[2]() is None),
    }


@probe("singleton_types")
def _(obj):
    return {
        "ellipsis_type": t(lambda: obj[0] is type(Ellipsis)),
        "notimplemented_type": t(lambda: obj[1] is type(NotImplemented)),
        "ellipsis_call": t(lambda: obj[0]() is Ellipsis),
    }


# ---------------------------------------------------------------------------
# Sharing and cycles
# ---------------------------------------------------------------------------


@probe("shared_closure_twice")
def _(obj):
    return {
        "len": t(lambda: len(obj)),
        "same": t(lambda: obj[0] is obj[1]),
        "same_in_dict": t(lambda: obj[2]["again"] is obj[0]),
        "call": t(lambda: obj[0](5)),
        "meta": func_meta(obj[0]),
    }


@probe("shared_class_instance")
def _(obj):
    C, a, b, a2 = obj
    return {
        "type_is_class": t(lambda: [type(a) is C, type(b) is C]),
        "same_instance": t(lambda: a is a2),
        "distinct": t(lambda: a is not b),
        "values": t(lambda: [a.value, b.value]),
        "classmethod": t(lambda: type(C.make(1)) is C),
        "eq": t(lambda: [a == C(3), a == b]),
    }


@probe("shared_globals")
def _(obj):
    s, g, b = obj
    return {
        "set_get_same_globals": t(lambda: s.__globals__ is g.__globals__),
        "get_bump_same_globals": t(lambda: g.__globals__ is b.__globals__),
        "sequence": [t(g), t(s, 5), t(g), t(b, 2), t(g), t(b)],
        "names": t(lambda: [s.__name__, g.__name__, b.__name__]),
    }


@probe("cycle_list")
def _(lst):
    return {
        "len": t(lambda: len(lst)),
        "self_ref": t(lambda: lst[1] is lst),
        "call": t(lambda: lst[1][1][0](1)),
        "meta": func_meta(lst[0]),
    }


@probe("cycle_dict_funcs")
def _(d):
    return {
        "keys": t(lambda: sorted(d)),
        "even": t(lambda: [d["even"](10), d["even"](7)]),
        "odd": t(lambda: [d["odd"](7), d["odd"](4)]),
        "self": t(lambda: d["self"] is d),
        "cell_is_dict": t(lambda: d["even"].__closure__[0].cell_contents is d),
        "shared_cell": t(lambda: d["even"].__closure__[0] is d["odd"].__closure__[0]),
    }


@probe("model")
def _(m):
    def pipeline(xs):
        feats = m["preprocess"](xs)
        pred = m["model"].predict(feats)
        return [feats, pred] + [cb(pred) for cb in m["callbacks"]]

    return {
        "keys": t(lambda: sorted(m)),
        "name": t(lambda: m["name"]),
        "version": t(lambda: m["version"]),
        "model_type": t(lambda: type(m["model"]).__qualname__),
        "weights": t(lambda: [m["model"].weights, m["model"].bias]),
        "pipeline": [t(pipeline, [10, 20, 30]), t(pipeline, [0, 0, 0]), t(pipeline, [-5, 5, -5])],
        "callbacks": t(lambda: [cb.__qualname__ for cb in m["callbacks"]]),
    }


# ---------------------------------------------------------------------------
# dill specials
# ---------------------------------------------------------------------------


@probe("dill_lock")
def _(lk):
    def cycle():
        got = lk.acquire(False)
        state = lk.locked()
        lk.release()
        return [got, state, lk.locked()]

    return {"type": t(lambda: type(lk).__name__), "locked": t(lambda: lk.locked()),
            "cycle": t(cycle)}


@probe("dill_rlock")
def _(lk):
    steps = []

    def step(label, fn):
        steps.append([label, t(fn)])

    step("is_owned", lambda: lk._is_owned())
    step("acquire", lambda: lk.acquire(blocking=False))
    step("acquire_again", lambda: lk.acquire(blocking=False))
    step("release", lk.release)
    step("release", lk.release)
    step("release_extra", lk.release)
    return {"type": t(lambda: type(lk).__name__), "steps": steps}


@probe("dill_weakref")
def _(obj):
    f, ref = obj
    return {
        "type": t(lambda: type(ref).__name__),
        "alive": t(lambda: ref() is f),
        "call": t(lambda: ref()(1)),
        "target_name": t(lambda: f.__name__),
    }


@probe("dill_weakproxy")
def _(obj):
    target, proxy = obj
    return {
        "type": t(lambda: type(proxy).__name__),
        "attr": t(lambda: proxy.v),
        "method": t(lambda: proxy.get()),
        "target_type": t(lambda: type(target).__qualname__),
        "same_state": t(lambda: proxy.v == target.v),
        "mutation_visible": t(lambda: (setattr(target, "v", 5), proxy.v)[1]),
    }


@probe("dill_file_handle")
def _(f):
    return {
        "type": t(lambda: type(f).__name__),
        "mode": t(lambda: f.mode),
        "closed": t(lambda: f.closed),
        "name_type": t(lambda: type(f.name).__name__),
        "name_is_original": t(lambda: f.name == "/tmp/depickle-corpus-file-handle.txt"),
        "tell": t(lambda: f.tell()),
        "read": t(lambda: f.read()),
    }


@probe("dill_session")
def _(m):
    return {
        "type": t(lambda: type(m).__name__),
        "name": t(lambda: m.__name__),
        "is_main": t(lambda: m is sys.modules["__main__"]),
        "x": t(lambda: m.SESSION_X),
        "list": t(lambda: m.SESSION_LIST),
        "func": t(lambda: m.session_func(2)),
        "class": t(lambda: m.SessionClass(3).double()),
        "obj": t(lambda: m.session_obj.double()),
        "obj_type": t(lambda: type(m.session_obj) is m.SessionClass),
        "public": t(lambda: sorted(k for k in vars(m) if not k.startswith("_"))),
    }
