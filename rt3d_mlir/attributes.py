"""Reading attributes of the input IR, some of which the Python bindings cannot represent.

Indexing an op's (or a dictionary attribute's) attributes makes the bindings
downcast the attribute to its Python class, and for some kinds that raises
TypeError instead: a dense array of a signed or unsigned element type
(``array<si32: 8, 4>``, ``array<ui8: 1>``: "Can't cast unknown element type
DenseArrayAttr"), or a location used as a value (``loc(unknown)``). Code that
reads attributes the user wrote reads them through :func:`lookup`, so such an
attribute is a wrong value like any other, not a crash.
"""

from __future__ import annotations

import re

from torch_mlir import ir

_CAST_FAILURE = re.compile(r"\(Attribute\((.*)\)\)\s*$", re.DOTALL)


class UnreadableAttribute(ValueError):
    """An attribute of a kind the bindings cannot represent; the message is its text where the bindings give it."""


def lookup(attributes: ir.OpAttributeMap | ir.DictAttr, name: str) -> ir.Attribute:
    """``attributes[name]`` (a KeyError if absent), or UnreadableAttribute where the bindings cannot represent it."""
    try:
        return attributes[name]
    except TypeError as error:
        shown = _CAST_FAILURE.search(str(error))
        raise UnreadableAttribute(shown[1] if shown else "an attribute the Python bindings cannot represent") from None
