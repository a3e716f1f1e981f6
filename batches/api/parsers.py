"""The API's JSON parser: bounded nesting and finite numbers, so that no body can crash a request.

Python's json module recurses once per nesting level: a body of a thousand brackets either
exhausts the interpreter's stack while parsing or produces a structure that later code walks
recursively. No CellBatch request nests deeper than a few levels, so anything deeper is refused.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def _refuse_constant(name: str) -> Any:
    raise ParseError(f"JSON parse error - {name} is not a number the API accepts; send a finite number.")


def nesting_depth(data: Any) -> int:
    """How deeply lists and objects nest in ``data``, found without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, Mapping):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth  # already refused: no need to walk the rest
        pending.extend((child, depth) for child in children)
    return deepest


class BoundedJSONParser(JSONParser):
    """JSON with at most MAX_DEPTH levels of lists and objects, and no NaN or Infinity."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            reader = codecs.getreader(encoding)
        except LookupError:
            raise ParseError(f"JSON parse error - unknown charset {encoding!r}; send UTF-8.") from None
        too_deep = ParseError(f"JSON parse error - the body nests more than {MAX_DEPTH} levels deep.")
        try:
            data = json.load(reader(stream), parse_constant=_refuse_constant)
        except RecursionError:
            raise too_deep from None
        except ValueError as exc:  # also UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from None
        if nesting_depth(data) > MAX_DEPTH:
            raise too_deep
        return data
