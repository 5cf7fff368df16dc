"""Package exports that import their module on first use.

``import esign`` (and so every ``esign`` command) would otherwise import every subpackage,
pyHanko's signing and network stacks among them, before doing anything. A package calls
:func:`lazy_exports` with the names it exports and the module each comes from; the name's
module is imported when the name is first read, and ``from esign import sign`` works as
before.
"""

from __future__ import annotations

import importlib
import os
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


def defer_package_init(name: str) -> None:
    """Let ``name``'s submodules be imported without running the package's ``__init__``
    until one of the package's own names is read.

    ``pyhanko.sign/__init__`` imports pyHanko's PDF signer and, through its time-stamp
    client, aiohttp (about half a second), even when only ``pyhanko.sign.general`` or the
    CMS validator is wanted. With this, ``import pyhanko.sign.general`` loads just that;
    ``from pyhanko.sign import SimpleSigner`` (or any other read of the package) runs the
    real ``__init__`` then, once, in the same module object. Nothing happens if the package
    was imported already or is not installed.
    """
    if name in sys.modules:
        return
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader
    locations = list(spec.submodule_search_locations)
    state = {"ran": False}

    def is_submodule(attr: str) -> bool:
        return any(
            os.path.exists(os.path.join(folder, attr + ".py"))
            or os.path.isdir(os.path.join(folder, attr))
            for folder in locations
        )

    class DeferredPackage(types.ModuleType):
        def __getattr__(self, attr: str) -> Any:
            # ``from package import submodule`` probes the attribute first: a miss lets the
            # import system load the submodule, as while a real __init__ is still running.
            if not state["ran"] and not is_submodule(attr):
                state["ran"] = True
                loader.exec_module(self)
                if attr in self.__dict__:
                    return self.__dict__[attr]
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")

    module.__class__ = DeferredPackage
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], child, module)
