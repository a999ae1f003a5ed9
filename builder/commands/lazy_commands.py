"""The `cairn` group's command table, filled as commands are asked for.

Importing every command module costs a start-up tens of milliseconds that `cairn run` or
a cached build never uses. The table knows which module defines each name: `get(name)`
(how click resolves the command being run) imports that one module; anything that lists
or counts the commands (`--help`, iteration, `in`, `len`) imports them all first.
"""

from __future__ import annotations

import importlib


class LazyCommands(dict):
    def __init__(self, package: str, modules: dict[str, str], loaded: dict):
        super().__init__(loaded)
        self._package, self._modules, self._all = package, modules, False

    def _load(self, name: str) -> None:
        module = self._modules.get(name)
        if module is None:  # not in the table: whoever defines it registers on import
            self._load_all()
        elif not super().__contains__(name):
            importlib.import_module(f"{self._package}.{module}")

    def _load_all(self) -> None:
        if not self._all:
            self._all = True
            for module in sorted(set(self._modules.values())):
                importlib.import_module(f"{self._package}.{module}")

    def get(self, name, default=None):
        self._load(name)
        return super().get(name, default)

    def __getitem__(self, name):
        self._load(name)
        return super().__getitem__(name)

    def __contains__(self, name) -> bool:
        self._load(name)
        return super().__contains__(name)

    def __iter__(self):
        self._load_all()
        return super().__iter__()

    def __len__(self) -> int:
        self._load_all()
        return super().__len__()

    def keys(self):
        self._load_all()
        return super().keys()

    def values(self):
        self._load_all()
        return super().values()

    def items(self):
        self._load_all()
        return super().items()
