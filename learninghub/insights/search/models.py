"""The search index: one row per experiment, post-mortem, lesson and action item.

The rows are plain columns the selector filters and facets on (team, kind, restricted, outcome,
failure mode, date). The full-text part is vendor-specific and lives in the migrations, not in
these models: on PostgreSQL a STORED generated ``tsvector`` column (title A, body B, extra C)
with a GIN index and a trigram index on the title; on SQLite an FTS5 external-content table
``search_fts`` kept in sync with ``search_document`` by triggers. Application code only ever
writes :class:`SearchDocument` rows (see ``indexing.py``).
"""

from __future__ import annotations

from django.db import models


class DocumentKind(models.TextChoices):
    EXPERIMENT = "experiment", "Experiment"
    POSTMORTEM = "postmortem", "Post-mortem"
    LESSON = "lesson", "Lesson"
    ACTION_ITEM = "action_item", "Action item"


class SearchDocument(models.Model):
    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    object_id = models.PositiveBigIntegerField()
    team = models.ForeignKey("learninghub.Team", on_delete=models.CASCADE, related_name="+")
    restricted = models.BooleanField(
        default=False, help_text="A restricted post-mortem, or a lesson or action item of one: its team only")
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True, help_text="The main text (weighted below the title)")
    extra = models.TextField(blank=True, help_text="Everything else worth finding (weighted lowest)")
    outcome = models.CharField(max_length=20, blank=True)
    failure_mode = models.CharField(max_length=20, blank=True)
    dated_at = models.DateTimeField(null=True, blank=True, help_text="The date the period facet uses")
    url = models.CharField(max_length=300)
    indexed_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "search_document"
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="unique_search_document")]
        indexes = [
            models.Index(fields=["team", "restricted"]),
            models.Index(fields=["kind"]),
            models.Index(fields=["dated_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}: {self.title[:60]}"


class FtsEntry(models.Model):
    """SQLite only: the FTS5 table ``search_fts`` (created by migration 0002), seen by the ORM so
    queries can MATCH it and call ``bm25()``, ``highlight()`` and ``snippet()`` on it."""

    document = models.OneToOneField(SearchDocument, primary_key=True, db_column="rowid",
                                    on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")

    class Meta:
        managed = False
        db_table = "search_fts"

    def __str__(self) -> str:
        return f"FTS entry {self.pk}"
