"""Registries: named things (strategies, broadcasts, feeds, trainers, traffic patterns) by name.

Each registered class is added where it is defined, by decorating it with its registry's
``add``; the registry keeps them in the order they were defined, which is the order the
command line lists them in.
"""

from __future__ import annotations

from typing import Protocol, TypeVar, cast


class Named(Protocol):
    """Anything with a ``name``: a registered class has it as a class attribute."""

    @property
    def name(self) -> str: ...


T = TypeVar("T")


class Registry(dict[str, T]):
    """Things by their ``name``, in the order they were added; ``@REGISTRY.add`` on a class adds it."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def add(self, thing: T) -> T:
        """Register ``thing`` under its ``name`` and return it (a class decorator); a name taken twice is an error."""
        name = cast(Named, thing).name
        if name in self:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        self[name] = thing
        return thing

    def lookup(self, name: str, error: type[Exception], what: str | None = None) -> T:
        """The thing registered as ``name``; if there is none, ``error`` in one line naming the choices
        (``what``: the word users know these things by, default the registry's)."""
        if name not in self:
            raise error(f"unknown {what or self.what} {name!r}: use one of {', '.join(self)}")
        return self[name]
