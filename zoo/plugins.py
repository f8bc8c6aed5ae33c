"""Plug-ins keyed by name, found by importing every module of one package: task kinds
(`zoo.tasks`) and recurrent cores (`zoo.models.cores`) are each added by a new module of
their package and no edit elsewhere."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Generic, TypeVar

from zoo.errors import ConfigError, ZooError

T = TypeVar("T")


class Plugins(Generic[T]):
    """The `what`s registered by the modules of `package`, by name. `unknown` is the message
    (with `{name}` and `{names}`) of the `error` an unknown name raises."""

    def __init__(self, what: str, package: str, unknown: str, error: type[ZooError] = ZooError) -> None:
        self.what = what
        self.package = package
        self.unknown = unknown
        self.error = error
        self.by_name: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        """Register; a second item under a taken name is a mistake, not an override."""
        known = self.by_name.get(name)
        if known is not None and known != item:
            raise ConfigError(f"{self.what} {name!r} is already registered")
        self.by_name[name] = item
        return item

    def discover(self) -> None:
        """Import every module of the package, so each item defined there has registered."""
        for module in pkgutil.iter_modules(importlib.import_module(self.package).__path__):
            importlib.import_module(f"{self.package}.{module.name}")

    def all(self) -> dict[str, T]:
        self.discover()
        return dict(self.by_name)

    def known(self, name: str) -> bool:
        """Whether an item is called `name` (the package is searched only when it is not yet known)."""
        if name not in self.by_name:
            self.discover()
        return name in self.by_name

    def find(self, name: str) -> T:
        """The item called `name` (the package's modules are imported only when it is not yet
        known), or the error listing the names there are."""
        if name not in self.by_name:
            self.discover()
        if name not in self.by_name:
            raise self.error(self.unknown.format(name=name, names=", ".join(sorted(self.by_name))))
        return self.by_name[name]
