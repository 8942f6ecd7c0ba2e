"""What a person typed, made safe for both engines.

The syntax is PostgreSQL's ``websearch_to_tsquery``: words, ``"a phrase"``, ``-word`` to
exclude, ``OR`` between alternatives. Plain words (no operator) are what people type when they
ask "have we tried this before?": records with *any* of them match, and records with all of them
rank first; as soon as an operator appears, every term must hold. PostgreSQL reads the text itself; for SQLite
:meth:`ParsedQuery.fts5` rebuilds it as an FTS5 expression in which every token is quoted, so no
input can be an FTS5 syntax error. Both engines see the same terms, and a query with nothing to
look for (empty, operators only, exclusions only) is answered with nothing, without a query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUERY_LENGTH = 200
MAX_TERMS = 16
PREFIX_MIN_LENGTH = 3  # "overfit" also finds "overfitting" on SQLite; 1-2 letters would match too much

_PIECE = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Dropped from any-word queries on SQLite (PostgreSQL's english configuration drops its own).
STOPWORDS = frozenset("""a an and are as at be but by did do does for from had has have how i if in is it its
of on or our so that the their then there these this to was we were what when where which who why will with
you""".split())


@dataclass(frozen=True, slots=True)
class Term:
    words: tuple[str, ...]
    phrase: bool = False
    negated: bool = False
    or_before: bool = False

    def fts5(self) -> str:
        quoted = '"' + " ".join(self.words) + '"'
        if not self.phrase and len(self.words[-1]) >= PREFIX_MIN_LENGTH:
            quoted += "*"
        return quoted


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    text: str
    terms: tuple[Term, ...]

    @property
    def positive(self) -> tuple[Term, ...]:
        return tuple(term for term in self.terms if not term.negated)

    @property
    def is_empty(self) -> bool:
        """Nothing to look for: no words outside operators and exclusions."""
        return not self.positive

    @property
    def is_plain(self) -> bool:
        """Only words: no phrase, exclusion or alternative (which ask for precision, not typos)."""
        return all(not (term.phrase or term.negated or term.or_before) for term in self.terms)

    @property
    def any_word(self) -> bool:
        """Plain words, more than one: match any, rank those with all first."""
        return self.is_plain and len(self.terms) > 1

    def words(self) -> list[str]:
        """The positive words, stopwords left out unless nothing else remains."""
        words = [word for term in self.positive for word in term.words]
        meaningful = [word for word in words if word.lower() not in STOPWORDS]
        return meaningful or words

    @property
    def any_word_text(self) -> str:
        """For ``websearch_to_tsquery``: the words joined by ``or`` (or the text itself)."""
        return " or ".join(self.words()) if self.any_word else self.text

    def fts5(self, *, every_word: bool = False) -> str:
        """The query as an FTS5 MATCH expression (only meaningful when not empty); ``every_word``
        asks for the strict form of an any-word query."""
        if self.any_word and not every_word:
            return " OR ".join(Term(words=(word,)).fts5() for word in self.words())
        parts: list[str] = []
        for term in self.positive:
            if parts:
                parts.append("OR" if term.or_before else "AND")
            parts.append(term.fts5())
        expression = "(" + " ".join(parts) + ")"
        for term in self.terms:
            if term.negated:
                expression += " NOT " + term.fts5()
        return expression


def clean(text: str | None) -> str:
    """Control characters become spaces, runs of blanks one space."""
    return " ".join(_CONTROL.sub(" ", text or "").split())


def parse(text: str | None) -> ParsedQuery:
    cleaned = clean(text)[:MAX_QUERY_LENGTH]
    terms: list[Term] = []
    pending_or = False
    for match in _PIECE.finditer(cleaned):
        negated_phrase, phrase, bare = match.groups()
        if bare is not None and bare.upper() == "OR":
            pending_or = any(not term.negated for term in terms)
            continue
        negated = bool(negated_phrase) if bare is None else bare.startswith("-")
        words = tuple(_WORD.findall(phrase if bare is None else bare.lstrip("-")))
        if not words:
            continue
        terms.append(Term(words=words, phrase=bare is None, negated=negated, or_before=pending_or and not negated))
        pending_or = False
        if len(terms) >= MAX_TERMS:
            break
    return ParsedQuery(text=cleaned, terms=tuple(terms))
