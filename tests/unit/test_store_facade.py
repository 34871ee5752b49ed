"""``LogStore`` is a facade: each of its methods is one part's method (store/repository.py).

Nothing here reads the clock.
"""

from __future__ import annotations

import inspect

from aico.config import Settings
from aico.store import LogStore
from aico.store.repository import _Part


def facade_methods() -> dict[str, _Part]:
    return {name: attr for name, attr in vars(LogStore).items() if isinstance(attr, _Part)}


def test_each_store_method_is_the_named_parts_own(settings: Settings) -> None:
    """``store.x`` is the bound ``x`` of the part the class body names, and that part is of the method's class."""
    with LogStore.open(settings, writer=True) as store:
        methods = facade_methods()
        assert len(methods) >= 28
        for name, delegate in methods.items():
            part = getattr(store, delegate.part)
            assert type(part).__qualname__ == delegate.method.__qualname__.rsplit(".", 1)[0], name
            bound = getattr(store, name)
            assert bound == getattr(part, name), name
            assert inspect.signature(bound) == inspect.signature(getattr(part, name)), name
            assert bound.__doc__ == delegate.method.__doc__ == LogStore.__dict__[name].__doc__, name

