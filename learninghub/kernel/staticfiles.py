"""The static files storage: whitenoise's hashed, compressed copies in every mode.

``collectstatic`` (``make test``, the Docker image, production) writes the manifest and a
gzip (and brotli, when installed) copy of every file, which whitenoise serves with the right
``Content-Encoding`` under a hashed name cached for a year. Before the first ``collectstatic``
(a fresh checkout, plain ``pytest``) a file keeps its plain name and whitenoise serves it from
the app's directories; with ``DEBUG`` on, Django uses plain names anyway so edits show at once.
Either way ``GZipMiddleware`` compresses what is not compressed yet.
"""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class CompressedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Whitenoise's compressed manifest storage that answers a file not collected yet (no
    manifest entry, no copy in ``STATIC_ROOT``) with its plain name instead of failing the page."""

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            return name
