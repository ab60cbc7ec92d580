"""The registry of named classes: adding, refusing a name twice, and looking a name up."""

from __future__ import annotations

import pytest

from epiphany_sim.registry import Registry


class _Alpha:
    name = "alpha"


class _Beta:
    name = "beta"


def test_classes_are_kept_by_name_in_the_order_added() -> None:
    things: Registry[type] = Registry("thing")
    assert things.add(_Beta) is _Beta
    things.add(_Alpha)
    assert list(things) == ["beta", "alpha"]
    with pytest.raises(ValueError, match="thing 'beta' is registered twice"):
        things.add(_Beta)


def test_a_lookup_gives_the_class_or_one_line_naming_the_choices() -> None:
    things: Registry[type] = Registry("thing")
    things.add(_Alpha)
    things.add(_Beta)
    assert things.lookup("beta", KeyError) is _Beta
    with pytest.raises(LookupError, match="^unknown thing 'gamma': use one of alpha, beta$"):
        things.lookup("gamma", LookupError)
    with pytest.raises(LookupError, match="^unknown widget 'gamma'"):
        things.lookup("gamma", LookupError, "widget")
