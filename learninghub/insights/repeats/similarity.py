"""Text similarity between failures.

The default model is TF-IDF cosine similarity over the failure's words, computed in the
process (no network, no weights to download). The backend is pluggable through
``REPEAT_SIMILARITY_BACKEND``; when it cannot be loaded or fails, the detector falls back
to :func:`rule_score`, and records which one decided.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

WORD = re.compile(r"[a-z0-9][a-z0-9_\-]{2,}")
STOP_WORDS = frozenset(
    "the and for with was were that this from into our not but are has have had its their they them "
    "then than when what which who will would should could been being also more most very over under "
    "after before because while about between each only same some such".split()
)


def words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOP_WORDS]


class SimilarityUnavailableError(RuntimeError):
    """The similarity model cannot answer; the rule takes over."""


class TfidfSimilarity:
    """Cosine similarity of TF-IDF vectors, with IDF taken over the query and its candidates."""

    name = "tf-idf cosine"

    def scores(self, query: str, candidates: Sequence[str]) -> list[float]:
        documents = [Counter(words(query))] + [Counter(words(text)) for text in candidates]
        if not documents[0]:
            raise SimilarityUnavailableError("the failure has no words to compare")
        document_frequency: Counter[str] = Counter()
        for document in documents:
            document_frequency.update(document.keys())
        total = len(documents)

        def vector(document: Counter) -> dict[str, float]:
            return {w: count * (math.log((1 + total) / (1 + document_frequency[w])) + 1)
                    for w, count in document.items()}

        query_vector = vector(documents[0])
        query_norm = math.sqrt(sum(v * v for v in query_vector.values()))
        results = []
        for document in documents[1:]:
            candidate_vector = vector(document)
            norm = math.sqrt(sum(v * v for v in candidate_vector.values()))
            dot = sum(weight * candidate_vector.get(w, 0.0) for w, weight in query_vector.items())
            results.append(dot / (query_norm * norm) if norm and query_norm else 0.0)
        return results


def rule_score(root_cause: str, earlier_root_cause: str) -> float:
    """The fallback: the share of root-cause words the two failures have in common (Jaccard).

    Callers only compare failures of the same team and failure mode.
    """
    mine, theirs = set(words(root_cause)), set(words(earlier_root_cause))
    if not mine or not theirs:
        return 0.0
    return len(mine & theirs) / len(mine | theirs)
