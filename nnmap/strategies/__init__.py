"""Mapping strategies, one module each; defining a ``Strategy`` subclass registers it."""

import importlib
import pkgutil

from nnmap.strategies.base import STRATEGIES, Strategy, all_variants

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "names":  # it imports the strategies it builds on, which would register them first
        importlib.import_module(f"{__name__}.{_module.name}")

from nnmap.strategies.names import get_strategy  # noqa: E402  (after every strategy has registered)

__all__ = ["STRATEGIES", "Strategy", "all_variants", "get_strategy"]
