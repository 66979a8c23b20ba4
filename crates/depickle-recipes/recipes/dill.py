"""Stdlib reconstructions of dill's load-time helpers (dill 0.3.5 to 0.4.x, CPython 3.8-3.13).

Each function takes the arguments the pickled helper call receives and does what the helper
does, with standard-library callables only (see docs/recipes-dill.md for every deliberate
difference). depickle does not run this file: it parses it and evaluates each recipe over the
pickle's values; operations on values known while converting happen during conversion,
operations on load-time values become pickle opcodes.

Module family: `dill`, `dill._dill`, `dill.dill` and any other `dill.*` module.
"""
import _thread
import builtins
import collections
import functools
import importlib
import io
import marshal
import operator
import os.path as os_path
import sys
import tempfile
import types
import typing
import weakref

from _depickle import pickled_literal, pickled_none, pickled_truth, recipe, recipe_global, refuse, serializer_global

SERIALIZER = "dill"

# dill pickles this sentinel as `getattr(dill._dill, "_CELL_EMPTY", None)`: "the cell is empty".
CELL_EMPTY = serializer_global("_CELL_EMPTY")

# dill's file modes (dill.HANDLE_FMODE, CONTENTS_FMODE, FILE_FMODE).
HANDLE_FMODE = 0
CONTENTS_FMODE = 1
FILE_FMODE = 2

# Names of `types` members dill's `_reverse_typemap` holds (dill builds it from `builtins` and
# `types` at import; these are the `types` ones CPython 3.8-3.13 define).
TYPES_NAMES = (
    "AsyncGeneratorType",
    "BuiltinFunctionType",
    "BuiltinMethodType",
    "CapsuleType",
    "CellType",
    "ClassMethodDescriptorType",
    "CodeType",
    "CoroutineType",
    "FrameType",
    "FunctionType",
    "GeneratorType",
    "GenericAlias",
    "GetSetDescriptorType",
    "LambdaType",
    "MappingProxyType",
    "MemberDescriptorType",
    "MethodDescriptorType",
    "MethodType",
    "MethodWrapperType",
    "ModuleType",
    "SimpleNamespace",
    "TracebackType",
    "UnionType",
    "WrapperDescriptorType",
)

# Builtin classes that are not exceptions (exceptions are recognised by name below).
BUILTIN_TYPE_NAMES = (
    "bool",
    "bytearray",
    "bytes",
    "classmethod",
    "complex",
    "dict",
    "enumerate",
    "filter",
    "float",
    "frozenset",
    "int",
    "list",
    "map",
    "memoryview",
    "object",
    "property",
    "range",
    "reversed",
    "set",
    "slice",
    "staticmethod",
    "str",
    "super",
    "tuple",
    "type",
    "zip",
)

BUILTIN_EXCEPTION_NAMES = (
    "BaseException",
    "BaseExceptionGroup",
    "ExceptionGroup",
    "GeneratorExit",
    "KeyboardInterrupt",
    "StopAsyncIteration",
    "StopIteration",
    "SystemExit",
)

BUILTIN_EXCEPTION_SUFFIXES = ("Error", "Exception", "Warning")

# Public attributes of str (CPython 3.8-3.13).
STR_METHODS = (
    "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find",
    "format", "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit",
    "isidentifier", "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper",
    "join", "ljust", "lower", "lstrip", "maketrans", "partition", "removeprefix",
    "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip",
    "split", "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper",
    "zfill",
)

# Special file names `_create_filehandle` maps to the interpreter's own streams.
STD_STREAMS = (("<stdin>", "__stdin__"), ("<stdout>", "__stdout__"), ("<stderr>", "__stderr__"))


# ---------------------------------------------------------------------------- pseudo-globals


@recipe_global("__builtin__", "__main__")
def main_dict():
    # dill's Unpickler.find_class returns the loading `__main__` module's __dict__.
    return vars(importlib.import_module("__main__"))


@recipe_global("__builtin__", "NoneType")
def none_type():
    return type(None)


# ---------------------------------------------------------------------------- shims


@recipe("_setattr")
def shim_setattr(obj, name, value):
    setattr(obj, name, value)


@recipe("_delattr")
def shim_delattr(obj, name):
    delattr(obj, name)


# ---------------------------------------------------------------------------- functions, code


@recipe("_create_function")
def create_function(
    fcode, fglobals, fname=None, fdefaults=None, fclosure=None, fdict=None, fkwdefaults=None
):
    # dill passes `fglobals or dict()`. When the truth of the globals is not known while
    # converting (an empty dict filled later, a module namespace), the choice is made at load
    # time by indexing a pair with bool(fglobals). dill writes None for absent optional
    # arguments, as a literal.
    truth = pickled_truth(fglobals)
    if truth is None:
        fglobals = operator.getitem((dict(), fglobals), bool(fglobals))
    elif not truth:
        fglobals = {}
    func = types.FunctionType(fcode, fglobals, fname, fdefaults, fclosure)
    if not pickled_none(fdict):
        func.__dict__.update(fdict)
    if not pickled_none(fkwdefaults):
        func.__kwdefaults__ = fkwdefaults
    # dill adds `__builtins__` only when the globals lack it: that is setdefault.
    func.__globals__.setdefault("__builtins__", builtins.__dict__)
    return func


@recipe("_create_code")
def create_code(*args):
    # The layout tells which CPython wrote it; the same Python must load it (bytecode is
    # version-specific), so the fields map to that version's CodeType arguments:
    #   16 fields, first an int: 3.8/3.9 (lnotab), or 3.10 with dill 0.3.5 (lnotab in the
    #     linetable slot); both are `CodeType(*fields)` on the Python that wrote them.
    #   17: co_lnotab first (dill >= 0.3.6), then the 16 fields of 3.10.
    #   19: co_lnotab first, then the 18 fields of 3.11-3.13.
    # Other layouts (3.7's 15, 3.11 alphas' 20/21, PyPy's 18) are not CPython 3.8-3.13.
    n = len(args)
    if n == 16 and isinstance(args[0], int):
        return types.CodeType(*args)
    if (n == 17 or n == 19) and isinstance(args[1], int):
        return types.CodeType(*args[1:])
    refuse("code object layout from a Python depickle does not support")


@recipe("_unmarshal")
def unmarshal(string):
    return marshal.loads(string)


@recipe("_create_cell")
def create_cell(contents=None):
    if contents is CELL_EMPTY:
        return types.CellType()
    return types.CellType(contents)


# ---------------------------------------------------------------------------- types, modules


@recipe("_load_type")
def load_type(name):
    special = {
        "PartialType": functools.partial,
        "SuperType": super,
        "ItemGetterType": operator.itemgetter,
        "AttrGetterType": operator.attrgetter,
        "FileType": io.FileIO,
        "BufferedRandomType": io.BufferedRandom,
        "BufferedReaderType": io.BufferedReader,
        "BufferedWriterType": io.BufferedWriter,
        "TextWrapperType": io.TextIOWrapper,
        "LockType": _thread.LockType,
        "RLockType": _thread.RLock,
    }
    if name in special:
        return special[name]
    # types.NoneType & co. only exist from 3.10; type(...) is the same object everywhere.
    if name == "NoneType":
        return type(None)
    if name == "EllipsisType":
        return type(Ellipsis)
    if name == "NotImplementedType":
        return type(NotImplemented)
    if name == "DictKeysType":
        return type({}.keys())
    if name == "DictValuesType":
        return type({}.values())
    if name == "DictItemsType":
        return type({}.items())
    if name == "OdictKeysType":
        return type(collections.OrderedDict().keys())
    if name == "OdictValuesType":
        return type(collections.OrderedDict().values())
    if name == "OdictItemsType":
        return type(collections.OrderedDict().items())
    if name == "ExitType":
        # The class of `exit`/`quit` (added by `site`).
        return getattr(importlib.import_module("_sitebuiltins"), "Quitter")
    if name == "GenericAliasIteratorType":
        # Python >= 3.11 (the only ones where dill's table has it).
        return type(iter(types.GenericAlias(list, (int,))))
    if name == "PyCapsuleType":
        # The capsule class itself (never a capsule); types.CapsuleType only exists from 3.13.
        return type(getattr(importlib.import_module("datetime"), "datetime_CAPI"))
    pure_python_io = {
        "PyBufferedRandomType": "BufferedRandom",
        "PyBufferedReaderType": "BufferedReader",
        "PyBufferedWriterType": "BufferedWriter",
        "PyTextWrapperType": "TextIOWrapper",
    }
    if name in pure_python_io:
        return getattr(importlib.import_module("_pyio"), pure_python_io[name])
    if name in TYPES_NAMES:
        return getattr(types, name)
    if name in BUILTIN_TYPE_NAMES or name in BUILTIN_EXCEPTION_NAMES:
        return getattr(builtins, name)
    for suffix in BUILTIN_EXCEPTION_SUFFIXES:
        if name.endswith(suffix):
            return getattr(builtins, name)
    # dill raises KeyError for names outside its table; never hand out an arbitrary builtin.
    raise KeyError(name)


@recipe("_create_type")
def create_type(typeobj, *args):
    return typeobj(*args)


@recipe("_import_module")
def import_module(import_name, safe=False):
    if safe:
        refuse("_import_module(safe=True) needs a load-time fallback")
    if import_name.startswith("__runtime__."):
        return operator.getitem(sys.modules, import_name)
    return importlib.import_module(import_name)


@recipe("_getattr")
def getattr_descriptor(objclass, name, repr_str):
    # dill evaluates the class name found in the repr; it is `objclass` itself (the descriptor's
    # __objclass__), whose __dict__ holds the descriptor.
    return operator.getitem(vars(objclass), name)


@recipe("_get_attr")
def get_attr(self, name):
    # dill < 0.3.6: `getattr(self, name, None) or getattr(builtins, name)`, where `self` is the
    # string "builtins" for builtin functions. A string has no such attribute unless `name` is
    # one of str's own, so that case is decided here; for other objects the attribute is taken
    # (dill's fallback to builtins only matters for a missing or falsy attribute).
    if pickled_literal(self) and isinstance(self, str):
        if name.startswith("_") or name in STR_METHODS:
            return getattr(self, name)
        return getattr(builtins, name)
    return getattr(self, name)


@recipe("_create_namedtuple")
def create_namedtuple(name, fieldnames, modulename, defaults=None):
    # dill returns `modulename.name` when it can be imported, else a new namedtuple class.
    # getattr's default gives the same choice at load time (the fallback class is built either
    # way, which has no effect beyond the class object itself).
    fallback = collections.namedtuple(name, fieldnames, defaults=defaults, module=modulename)
    return getattr(importlib.import_module(modulename), name, fallback)


@recipe("_create_ftype")
def create_ftype(ftypeobj, func, args, kwds):
    if kwds is None:
        kwds = {}
    if args is None:
        args = ()
    return ftypeobj(func, *args, **kwds)


@recipe("_create_typing_tuple")
def create_typing_tuple(argz, *args):
    if not argz:
        return operator.getitem(typing.Tuple, ()).copy_with(())
    if argz == ((),):
        return operator.getitem(typing.Tuple, ())
    return operator.getitem(typing.Tuple, argz)


@recipe("_eval_repr")
def eval_repr(repr_str):
    # Only reprs that are constants; anything else would need eval at load time.
    if not pickled_literal(repr_str):
        refuse("_eval_repr of a repr computed at load time is not a known constant")
    if repr_str == "Ellipsis":
        return Ellipsis
    if repr_str == "NotImplemented":
        return NotImplemented
    refuse("_eval_repr of a repr that is not a known constant")


@recipe("_setitems")
def setitems(dest, source):
    for key, value in source.items():
        dest[key] = value


# ---------------------------------------------------------------------------- locks, threads


@recipe("_create_lock")
def create_lock(locked, *args):
    if locked:
        refuse("a lock held when pickled is not recreated (policy)")
    return _thread.allocate_lock()


@recipe("_create_rlock")
def create_rlock(count, owner, *args):
    lock = _thread.RLock()
    if owner is None:
        return lock
    if owner:
        refuse("an RLock held when pickled is not recreated (policy)")
    # Owner 0 is an unheld RLock; dill still restores (count, 0), which leaves the underlying
    # lock acquired by no thread. Reproduced as is.
    lock._acquire_restore((count, owner))
    return lock


@recipe("_create_thread_handle")
def create_thread_handle(ident, done, *args):
    handle = importlib.import_module("threading")._make_thread_handle(ident)
    if done:
        handle._set_done()
    return handle


# ---------------------------------------------------------------------------- weak references


@recipe("_create_weakref")
def create_weakref(obj, *args):
    # dill writes None for a dead referent; any other value is the live referent.
    if pickled_none(obj):
        return weakref.ref(collections.UserDict(), *args)
    return weakref.ref(obj, *args)


@recipe("_create_weakproxy")
def create_weakproxy(obj, callable=False, *args):
    if pickled_none(obj):
        if callable:
            # dill proxies a lambda that dies at once; any fresh callable does the same.
            return weakref.proxy(functools.partial(print), *args)
        return weakref.proxy(collections.UserDict(), *args)
    return weakref.proxy(obj, *args)


# ---------------------------------------------------------------------------- files, streams


@recipe("_create_filehandle")
def create_filehandle(name, mode, position, closed, open, strictio, fmode, fdata):
    for stream_name, attribute in STD_STREAMS:
        if name == stream_name:
            return getattr(sys, attribute)
    if name == "<tmpfile>":
        raise AttributeError("os.tmpfile does not exist on Python 3")
    if strictio:
        refuse("strictio needs load-time checks of the file (policy: refused)")
    if fmode == FILE_FMODE:
        refuse("FILE_FMODE writes the pickled contents to disk at load (policy)")
    if name == "<fdopen>":
        f = tempfile.TemporaryFile(mode)
    else:
        for letter in ("w", "a", "x", "+"):
            if letter in mode:
                refuse("a handle that can write would create or modify a file (policy)")
        # Read-only: dill opens the file when it exists, else an anonymous temporary file.
        # Picked at load time by indexing with os.path.exists(name).
        choices = (
            functools.partial(tempfile.TemporaryFile, mode),
            functools.partial(open, name, mode),
        )
        f = operator.getitem(choices, os_path.exists(name))()
        if fmode == CONTENTS_FMODE and not closed and position >= 0:
            # dill clamps the position to the file's size (0 when it is missing).
            position = min(position, f.seek(0, 2))
    if closed:
        f.close()
    elif position >= 0 and fmode != HANDLE_FMODE:
        f.seek(position)
    return f


# dill's `StringIO` is `io.BytesIO` on Python 3 (these helpers are written for Python 2's
# cStringIO objects).


@recipe("_create_stringi")
def create_stringi(value, position, closed):
    f = io.BytesIO(value)
    if closed:
        f.close()
    else:
        f.seek(position)
    return f


@recipe("_create_stringo")
def create_stringo(value, position, closed):
    f = io.BytesIO()
    if closed:
        f.close()
    else:
        f.write(value)
        f.seek(position)
    return f


# ---------------------------------------------------------------------------- numpy, capsules


@recipe("_create_array")
def create_array(f, args, state, npdict=None):
    array = f(*args)
    array.__setstate__(state)
    if npdict is not None:
        array.__dict__.update(npdict)
    return array


@recipe("_create_dtypemeta")
def create_dtypemeta(scalar_type):
    dtype = importlib.import_module("numpy").dtype
    if scalar_type is None:
        return dtype
    return type(dtype(scalar_type))


@recipe("_create_capsule")
def create_capsule(pointer, name, context, destructor):
    # A capsule wraps a raw C pointer of the pickling process; recreating one is unsafe.
    refuse("PyCapsule objects are refused (policy)")
