"""`cached_property` without a lock shared by every instance.

Up to Python 3.11, `functools.cached_property` computes the value under ONE lock per class
attribute, shared by all instances. `Situation.route` is a model read that blocks until its batch
is read, so under that lock only one conversation at a time could route: in `bot bench serve` 13 of
16 threads waited there and the `ReadBatcher` gathered 2.4 reads a batch. Python 3.12 dropped the
lock; this is that behaviour on every version. A `Situation` belongs to one turn's thread, so
there is no race to guard against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

__all__ = ["cached_property"]

T = TypeVar("T")


class cached_property(Generic[T]):  # noqa: N801 - a drop-in for functools.cached_property
    """Computed on first access, then kept in the instance's `__dict__` (which shadows this)."""

    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func, self.name = func, func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached_property[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | cached_property[T]:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value
        return value
