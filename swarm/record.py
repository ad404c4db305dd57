"""Frozen, slotted value classes for the wire messages, built without code
generation.

``dataclasses`` writes and compiles an ``__init__``, ``__eq__`` and more for
every class when the module is imported: about a millisecond per class, some
40 ms for the protocol's messages.  Every peer pays that at start-up, and the
peers of a swarm start together on few cores, so the messages use this
instead: fields come from the class annotations (as with a dataclass; mypy
reads them the same way through ``dataclass_transform``), and the methods
are shared, written once here.
"""

from __future__ import annotations

from typing import Any, ClassVar, dataclass_transform


class _RecordMeta(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any],
                **kwargs: Any) -> _RecordMeta:
        annotations = namespace.get("__annotations__", {})
        own = tuple(
            field for field, kind in annotations.items() if not str(kind).startswith("ClassVar")
        )
        namespace["__slots__"] = own
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        inherited: tuple[str, ...] = ()
        for base in bases:
            inherited = getattr(base, "_fields", ()) or inherited
        cls._fields = inherited + own  # type: ignore[attr-defined]
        return cls


@dataclass_transform(frozen_default=True, eq_default=True)
class Record(metaclass=_RecordMeta):
    """Fields are positional (or keyword) constructor arguments, in
    annotation order; ``__post_init__`` checks them."""

    _fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        if not kwargs and len(args) == len(fields):  # the common case, kept short
            for name, value in zip(fields, args, strict=True):
                object.__setattr__(self, name, value)
            self.__post_init__()
            return
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__} takes {len(fields)} fields, "
                            f"got {len(args)}")
        values = dict(zip(fields, args, strict=False))
        for name, value in kwargs.items():
            if name not in fields or name in values:
                raise TypeError(f"{type(self).__name__}: bad or repeated field {name!r}")
            values[name] = value
        if len(values) != len(fields):
            missing = [f for f in fields if f not in values]
            raise TypeError(f"{type(self).__name__}: missing {', '.join(missing)}")
        for name in fields:
            object.__setattr__(self, name, values[name])
        self.__post_init__()

    def __post_init__(self) -> None:
        pass

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self.values() == other.values()

    def __hash__(self) -> int:
        return hash((type(self), self.values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({inner})"
