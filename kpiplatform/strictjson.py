"""Reading JSON sent by clients, refusing what Python's ``json`` accepts but nothing can store.

Python's ``json`` reads a lone UTF-16 surrogate escape (``"\\ud800"``) into a string that cannot
be encoded as UTF-8 (PostgreSQL, the response renderer and the logs then fail), ``NaN`` and
``Infinity`` (not JSON), and raises ``RecursionError`` (not a ``ValueError``) on deep nesting or
a ``ValueError`` that is not a ``JSONDecodeError`` on an integer of more than 4,300 digits. Every
JSON body the platform reads (API requests, imported files) goes through :func:`loads`, which
turns each of these into :class:`InvalidJSON` with a message for the sender.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


class InvalidJSON(ValueError):
    """The text is not JSON the platform accepts; ``str(exc)`` says why."""


def _refuse_constant(name: str) -> None:
    raise InvalidJSON(f"{name} is not a JSON value")


def loads(text: str) -> Any:
    """Parse ``text`` as JSON; raise InvalidJSON for anything the module docstring lists."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except InvalidJSON:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidJSON(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidJSON("not valid JSON: arrays and objects are nested too deeply") from None
    except ValueError:  # an integer longer than the interpreter converts
        limit = sys.get_int_max_str_digits()
        raise InvalidJSON(f"not valid JSON: a number has more than {limit} digits") from None
    if _has_lone_surrogate(data):
        raise InvalidJSON(
            "not valid JSON text: a string holds a lone UTF-16 surrogate (such as \\ud800), "
            "which is not a character"
        )
    return data


def _has_lone_surrogate(data: Any) -> bool:
    # Iterative: the data may be nested as deep as the parser allowed. Valid surrogate pairs
    # were already joined into one character by the parser, so any surrogate left is lone.
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and _SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
