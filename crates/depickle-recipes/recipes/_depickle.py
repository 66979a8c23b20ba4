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
