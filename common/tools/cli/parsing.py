"""The command lines' parser: one line and exit status 2 for anything argparse refuses, each
default shown once as it would be typed, and the number types every script's options use."""
from __future__ import annotations

import argparse
import math
from typing import Any, Callable, Optional


class HelpFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" to an option's help, X as a user would type it (``300 450``, ``fp32``,
    ``0``; see :func:`typed_default`), unless the help already says its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = typed_default(action)
        if shown is None or "default" in text.lower():
            return text
        return f"{text} (default: {shown.replace('%', '%%')})"


def typed_default(action: argparse.Action) -> Optional[str]:
    """An option's default as it would be typed after its flag, or None where there is none to show
    (None, a flag that is off, an empty list). A type function may say how its values are typed
    with a ``typed`` attribute (bench.py's sizes: ``300x450``)."""
    default = action.default
    if not action.option_strings or default is None or default is False or default is argparse.SUPPRESS:
        return None
    listed = action.nargs not in (None, "?") and isinstance(default, (list, tuple))
    values = list(default) if listed else [default]
    if not values:
        return None
    show: Callable[[Any], str] = getattr(action.type, "typed", _typed)
    return " ".join(show(value) for value in values)


def _typed(value: Any) -> str:
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


class OneLineParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # argparse would print the whole usage first
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind: type, text: str, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def whole(text: str) -> int:
    return _number(int, text, "a whole number")


def real(text: str) -> float:
    """A finite number: every real-valued option is a rate, weight, factor or amount, for which
    NaN or infinity (also what "1e400" parses to) could only fail later, after work was done."""
    value = _number(float, text, "a number")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value
