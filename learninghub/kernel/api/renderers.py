"""Renderers shared by the apps' APIs."""

from __future__ import annotations

from rest_framework.renderers import JSONRenderer


class MarkdownRenderer(JSONRenderer):
    """Lets clients ask for ``text/markdown`` (the export actions). The document itself is a
    string and goes out as it is; anything else is an error (404, 401, 429…) and goes out as the
    API's usual JSON body with a JSON content type, like every other API error."""

    media_type = "text/markdown"
    format = "md"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode(self.charset)
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return super().render(data, "application/json", renderer_context)
