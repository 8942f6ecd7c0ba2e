"""The full-text part of the index, per database.

PostgreSQL: a STORED generated ``tsvector`` (title A, body B, extra C) with a GIN index, and a
trigram GIN index on the title (pg_trgm) for short titles and typos.
SQLite: an FTS5 external-content table over ``search_document`` kept in sync by triggers,
ranked with column weights (title 10, body 4, extra 1), English stemming (porter).

Caution on SQLite: Django alters a table there by rebuilding it, which drops its triggers. A
later migration that changes ``search_document`` must recreate the three triggers below.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

POSTGRESQL_FORWARDS = [
    """
    ALTER TABLE search_document ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A')
        || setweight(to_tsvector('english', coalesce(body, '')), 'B')
        || setweight(to_tsvector('english', coalesce(extra, '')), 'C')
    ) STORED
    """,
    "CREATE INDEX search_document_vector_gin ON search_document USING gin (search_vector)",
    "CREATE INDEX search_document_title_trgm ON search_document USING gin (title gin_trgm_ops)",
]
POSTGRESQL_BACKWARDS = [
    "DROP INDEX IF EXISTS search_document_title_trgm",
    "DROP INDEX IF EXISTS search_document_vector_gin",
    "ALTER TABLE search_document DROP COLUMN IF EXISTS search_vector",
]

SQLITE_FORWARDS = [
    """
    CREATE VIRTUAL TABLE search_fts USING fts5(
        title, body, extra, content='search_document', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    )
    """,
    "INSERT INTO search_fts(search_fts, rank) VALUES ('rank', 'bm25(10.0, 4.0, 1.0)')",
    """
    CREATE TRIGGER search_document_ai AFTER INSERT ON search_document BEGIN
        INSERT INTO search_fts(rowid, title, body, extra) VALUES (new.id, new.title, new.body, new.extra);
    END
    """,
    """
    CREATE TRIGGER search_document_ad AFTER DELETE ON search_document BEGIN
        INSERT INTO search_fts(search_fts, rowid, title, body, extra)
        VALUES ('delete', old.id, old.title, old.body, old.extra);
    END
    """,
    """
    CREATE TRIGGER search_document_au AFTER UPDATE OF title, body, extra ON search_document BEGIN
        INSERT INTO search_fts(search_fts, rowid, title, body, extra)
        VALUES ('delete', old.id, old.title, old.body, old.extra);
        INSERT INTO search_fts(rowid, title, body, extra) VALUES (new.id, new.title, new.body, new.extra);
    END
    """,
    "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARDS = [
    "DROP TRIGGER IF EXISTS search_document_au",
    "DROP TRIGGER IF EXISTS search_document_ad",
    "DROP TRIGGER IF EXISTS search_document_ai",
    "DROP TABLE IF EXISTS search_fts",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [
        TrigramExtension(),  # a no-op on SQLite
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL_FORWARDS, "sqlite": SQLITE_FORWARDS}),
            _run({"postgresql": POSTGRESQL_BACKWARDS, "sqlite": SQLITE_BACKWARDS}),
            elidable=False,
        ),
    ]
