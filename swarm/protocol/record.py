"""Slotted value classes, built without code generation.

``dataclasses`` writes and compiles an ``__init__``, ``__eq__`` and more for
every class when its module is imported -- about a millisecond a class -- and
importing ``dataclasses`` itself pulls in ``inspect``: some 60 ms of CPU that
every peer paid at start-up, while the peers of a swarm start together on few
cores.  A ``Record`` takes its fields from the class annotations, as a
dataclass does (and mypy reads it as one, through ``dataclass_transform``),
but its methods are written once, here.

    class Point(Record):                   # frozen, hashable
        x: int
        y: int = 0

    class Tally(Record, frozen=False):     # fields may be reassigned
        seen: set[str] = field(default_factory=set)
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar, TypeVar, dataclass_transform

T = TypeVar("T")


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], T]) -> T:
    """A default made fresh for every instance (a set, a list, a dict)."""
    return _Factory(default_factory)  # type: ignore[return-value]


class _RecordMeta(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any],
                frozen: bool | None = None, **kwargs: Any) -> _RecordMeta:
        annotations = namespace.get("__annotations__", {})
        own = tuple(
            f for f, kind in annotations.items() if not str(kind).startswith("ClassVar")
        )
        defaults = {f: namespace.pop(f) for f in own if f in namespace}
        namespace["__slots__"] = own
        inherited_fields: tuple[str, ...] = ()
        inherited_defaults: dict[str, Any] = {}
        inherited_frozen = True
        for base in bases:
            if isinstance(base, _RecordMeta):
                inherited_fields = base._fields  # type: ignore[attr-defined]
                inherited_defaults = base._defaults  # type: ignore[attr-defined]
                inherited_frozen = base._frozen  # type: ignore[attr-defined]
        is_frozen = inherited_frozen if frozen is None else frozen
        if not is_frozen:
            namespace.setdefault("__hash__", None)  # mutable: not hashable
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        cls._fields = inherited_fields + own  # type: ignore[attr-defined]
        cls._values = _values_getter(cls._fields)  # type: ignore[attr-defined]
        cls._defaults = {**inherited_defaults, **defaults}  # type: ignore[attr-defined]
        cls._frozen = is_frozen  # type: ignore[attr-defined]
        return cls

    def __init__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, Any],
                 frozen: bool | None = None, **kwargs: Any) -> None:
        super().__init__(name, bases, namespace, **kwargs)


def _values_getter(fields: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A record's field values as a tuple, read in C (every message encoded
    and every record compared or hashed goes through it)."""
    if len(fields) > 1:
        return attrgetter(*fields)
    if fields:
        one = attrgetter(fields[0])
        return lambda record: (one(record),)
    return lambda _record: ()


@dataclass_transform(frozen_default=True, eq_default=True, field_specifiers=(field,))
class Record(metaclass=_RecordMeta):
    """Fields are positional or keyword constructor arguments, in annotation
    order; ``__post_init__`` may check them."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _values: ClassVar[Callable[[Any], tuple[Any, ...]]]
    _defaults: ClassVar[dict[str, Any]] = {}
    _frozen: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        if not kwargs and len(args) == len(fields):  # the common case, kept short
            set_field = object.__setattr__
            for name, value in zip(fields, args, strict=True):
                set_field(self, name, value)
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
        for name in fields:
            if name not in values:
                if name not in self._defaults:
                    raise TypeError(f"{type(self).__name__}: missing field {name!r}")
                default = self._defaults[name]
                values[name] = default.make() if isinstance(default, _Factory) else default
            object.__setattr__(self, name, values[name])
        self.__post_init__()

    def __post_init__(self) -> None:
        pass

    @classmethod
    def unchecked(cls: type[T], *values: Any) -> T:
        """A record of values this process made itself and knows are
        valid, built without ``__post_init__``'s checks (every field
        given, in order): for answers built in bulk from checked state.
        What comes off the wire always goes through the checks."""
        record = object.__new__(cls)
        set_field = object.__setattr__
        for name, value in zip(cls._fields, values, strict=True):  # type: ignore[attr-defined]
            set_field(record, name, value)
        return record

    def __setattr__(self, name: str, value: object) -> None:
        if self._frozen:
            raise AttributeError(f"{type(self).__name__} is immutable")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} fields cannot be deleted")

    def values(self) -> tuple[Any, ...]:
        return type(self)._values(self)

    def replace(self: T, **changes: Any) -> T:
        """A copy with some fields changed (checked again)."""
        assert isinstance(self, Record)
        current = {name: getattr(self, name) for name in self._fields}
        current.update(changes)
        return type(self)(**current)

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
