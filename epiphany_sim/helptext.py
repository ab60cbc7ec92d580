"""Command-line help: one line per registered name, and every default.

Both command lines (``epiphany-sim`` and ``nnmap``) format their ``--help`` with
``HelpFormatter``: an option with a default that its help text does not already state gets
``(default: VALUE)`` appended, and a command's epilog (``choices_epilog``) lists each
strategy, broadcast, traffic pattern or benchmark it takes, one line each, as written.
The lines come from the registries (``summary`` of each class's docstring), so a new
strategy or pattern appears there with its own description.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]`])\.(\s|$)")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions and epilogs as written, and names the default of every option that has one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if default in (None, False, argparse.SUPPRESS) or "default" in text.lower() or not action.option_strings:
            return text
        shown = ",".join(map(str, default)) if isinstance(default, list | tuple) else default
        return f"{text} (default: {str(shown).replace('%', '%%')})".lstrip()


def summary(documented: Any) -> str:
    """The first sentence of ``documented``'s own docstring, on one line, without reST markup ("" if none)."""
    doc = documented.__doc__ if isinstance(documented.__doc__, str) else ""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    match = _SENTENCE_END.search(paragraph)
    return (paragraph[: match.start()] if match else paragraph).replace("``", "").rstrip(".")


def choices_epilog(title: str, lines: dict[str, str]) -> str:
    """``title:`` then one line per name: the name, padded, and what it is."""
    width = max(map(len, lines), default=0)
    return "\n".join([f"{title}:", *(f"  {name:<{width}}  {text}".rstrip() for name, text in lines.items())])


def epilog(*sections: str) -> str:
    """Sections of ``choices_epilog``, a blank line between them."""
    return "\n\n".join(sections)
