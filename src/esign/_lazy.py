"""Package exports that import their module on first use.

``import esign`` (and so every ``esign`` command) would otherwise import every subpackage,
pyHanko's signing and network stacks among them, before doing anything. A package calls
:func:`lazy_exports` with the names it exports and the module each comes from; the name's
module is imported when the name is first read, and ``from esign import sign`` works as
before.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> None:
    """Make ``package``'s ``exports`` (name -> module) load on first attribute access.

    A function named like its own submodule (``esign.signing.verify``) stays the function
    when the submodule is imported, as it was with eager imports.
    """
    module = sys.modules[package]

    class LazyPackage(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            source = exports.get(name)
            if source is None:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            value = getattr(importlib.import_module(source), name)
            types.ModuleType.__setattr__(self, name, value)
            return value

        def __setattr__(self, name: str, value: Any) -> None:
            if (
                name in exports
                and isinstance(value, types.ModuleType)
                and value.__name__ == f"{package}.{name}"
                and hasattr(value, name)
            ):
                value = getattr(value, name)
            types.ModuleType.__setattr__(self, name, value)

        def __dir__(self) -> list[str]:
            return sorted({*self.__dict__, *exports})

    module.__class__ = LazyPackage
