"""Mapping strategies, one module each; defining a ``Strategy`` subclass registers it."""

import importlib
import pkgutil

from nnmap.strategies.base import STRATEGIES, Strategy, all_variants, get_strategy

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["STRATEGIES", "Strategy", "all_variants", "get_strategy"]
