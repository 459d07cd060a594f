"""Request body parsers of the API (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``)."""

from __future__ import annotations

import codecs

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from kpiplatform import strictjson


class StrictJSONParser(JSONParser):
    """DRF's JSON parser through :func:`kpiplatform.strictjson.loads`: deep nesting, huge
    integers, lone surrogates and NaN are a 400 ``parse_error``, never a 500 further on."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except UnicodeDecodeError:
            raise ParseError(f"JSON parse error - the body is not {encoding} text") from None
        try:
            return strictjson.loads(text)
        except strictjson.InvalidJSON as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
