"""The API's parsers: DRF's, with the same checks as the request guard (NUL bytes, lone
surrogates, integers beyond 64 bits, dates outside the years a month may have), so the API stays
safe even where the middleware is not installed, and for the bodies the guard does not read
(Django parses form bodies of POST only: a PUT or PATCH form reaches DRF's parsers unchecked). The
JSON parser also has a nesting limit (a 1,000-deep document must be a 400, not a
``RecursionError``)."""

from __future__ import annotations

import codecs
import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.settings import api_settings
from rest_framework.utils import json as drf_json

from learninghub.kernel.middleware import MAX_JSON_DEPTH, InputProblem, check_json_value


class DepthLimitedJSONParser(JSONParser):
    max_depth = MAX_JSON_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            parse_constant = drf_json.strict_constant if api_settings.STRICT_JSON else None
            document = json.loads(text, parse_constant=parse_constant)
        except RecursionError as exc:
            raise ParseError(f"JSON parse error - nested deeper than {self.max_depth} levels.") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        _check(document)
        return document


def _check(document) -> None:
    try:
        check_json_value(document)
    except InputProblem as exc:
        raise ParseError(f"{exc.field}: {exc.message}") from exc


class CheckedFormParser(FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _check(dict(data.lists()))
        return data


class CheckedMultiPartParser(MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        _check(dict(parsed.data.lists()))
        return parsed
