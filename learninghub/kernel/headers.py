"""Header values built from text people typed: a mail subject or a download's file name must
never carry a line break (``ValueError: Header values may not contain linefeed``, or worse, a
header injection) or control characters."""

from __future__ import annotations

import re

from django.http import HttpResponse
from django.utils.http import content_disposition_header

_CONTROL_OR_SPACE_RUN = re.compile(r"[\s\x00-\x1f\x7f\u2028\u2029]+")


def header_text(value: str, max_length: int = 200) -> str:
    """``value`` on one line: every run of whitespace or control characters becomes one space,
    cut to ``max_length`` characters (with an ellipsis when cut)."""
    text = _CONTROL_OR_SPACE_RUN.sub(" ", str(value)).strip()
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "…"
    return text


def set_download_filename(response: HttpResponse, filename: str, *, inline: bool = False) -> HttpResponse:
    """Set ``Content-Disposition`` safely for any file name (RFC 6266 ``filename*`` when needed)."""
    response["Content-Disposition"] = content_disposition_header(
        not inline, header_text(filename, 150).replace("/", "-").replace("\\", "-"))
    return response
