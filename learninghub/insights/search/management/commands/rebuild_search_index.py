"""Recreate the search index from every experiment, post-mortem, lesson and action item."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from learninghub.insights.search import indexing


class Command(BaseCommand):
    help = "Rebuild the search index (after loaddata, a restore, or an upgrade that adds it)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs)")

    def handle(self, *args, batch_size: int, no_progress: bool, **options) -> None:
        total = indexing.record_count()
        with tqdm(total=total, unit="doc", disable=no_progress or None, file=sys.stderr) as bar:
            written = indexing.rebuild(batch_size=batch_size, progress=bar.update)
        self.stdout.write(self.style.SUCCESS(f"Indexed {written} records."))
