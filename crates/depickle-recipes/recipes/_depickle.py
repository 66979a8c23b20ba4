"""Markers used by recipe modules.

depickle reads these markers statically (it never runs this file); under CPython they make the
recipe modules importable so tests can call each recipe next to the real serializer helper.
"""


def recipe(*helper_names):
    """Declare which serializer helpers (by attribute name) a recipe replaces."""

    def mark(function):
        function.replaces = helper_names
        return function

    return mark


class SerializerGlobal:
    """Stands for a serializer module attribute that recipes only compare against (a sentinel).

    Tests rebind the module-level names holding these to the real serializer objects.
    """

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "<serializer global %s>" % self.name


def serializer_global(name):
    return SerializerGlobal(name)


def recipe_global(module, name):
    """Declare that a zero-argument recipe builds what the serializer's unpickler returns for
    the global `module.name` (a name its `find_class` resolves itself, e.g. dill's
    `__builtin__.__main__`)."""

    def mark(function):
        function.replaces_global = (module, name)
        return function

    return mark


def pickled_none(value):
    """Whether `value` is written in the pickle as None.

    depickle answers while converting: True only for a literal None; any value computed at
    load time counts as not None (recipes use this where the serializer only writes None as a
    literal, and document it). Under CPython it is a plain `is None`.
    """
    return value is None


class Refused(Exception):
    """Raised under CPython where depickle refuses the conversion."""


def refuse(reason):
    """Stop: this input is not converted, for the stated reason (a documented policy or a
    layout depickle cannot map faithfully). depickle reports it as a refusal, not as an
    exception the original would raise when loaded."""
    raise Refused(reason)


def pickled_truth(value):
    """The truth of `value` when it is known while converting, else None.

    depickle knows it for values written in the pickle as literals (None, numbers, strings,
    containers used once) and for load-time containers written with items (items are never
    removed while loading). Under CPython it is `bool(value)`.
    """
    return bool(value)


def pickled_literal(value):
    """Whether depickle sees `value` while converting (a literal of the pickle: None, bool,
    int, str, or a container used once), as opposed to an object built at load time. Under
    CPython it is True for those types."""
    return value is None or isinstance(value, (bool, int, str, tuple, list, dict))
