"""Text similarity between failures: the tokenizer and the scoring models (pure Python).

The default model, :class:`FieldwiseSimilarity`, compares two failures field by field (title,
what was tried or what happened, approach, root cause, lessons, error) with TF-IDF vectors
whose IDF is taken over the team's failures being compared, so error boilerplate that many
failures share ("CUDA out of memory") weighs little and a rare shared cause weighs a lot.
It runs in the process (no network, no weights to download).

The backend is pluggable through ``REPEAT_SIMILARITY_BACKEND``: a class with
``rank(failure, candidates)`` (see :class:`FieldwiseSimilarity`), or a plain text model with
``scores(query, candidates) -> list[float]`` (see :class:`TfidfSimilarity`). When the backend
cannot be loaded or fails, the detector falls back to :func:`rule_score`, which only queues.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# --- Tokenizer ------------------------------------------------------------------------------

STOP_WORDS = frozenset(
    "a an the and or but nor of to in on at by for with from into onto as is it its be been being was were "
    "are am this that these those there here then than when what which who whom whose will would should could "
    "can may might must shall do does did done has have had having not no so if we our us they their them he "
    "she his her you your i me my also more most very over under after before because while about between "
    "each only same some such all any both few other own just too up down out off again once further via per "
    "new using use used get got make made via etc ie eg vs".split()
)
# Words that say "this is another go at it": ignored when titles are compared for near-identity.
RETRY_WORDS = frozenset("retry retri again rerun redo attempt second third fourth try tri take repeat another "
                        "follow followup round part".split())

# Phrases first (several words meaning one thing), then single words, mapped to one concept token.
PHRASE_SYNONYMS: tuple[tuple[str, str], ...] = (
    (r"out[ -]of[ -]memory|outofmemory|ran out of (?:gpu |device |host )?memory|memory exhausted", " oom "),
    (r"not a number|nan loss|loss (?:went|goes|became) nan", " nan "),
    (r"timed out|time[ -]?outs?", " timeout "),
    (r"learning[ -]rate", " lr "),
    (r"time[ -]zone", " timezone "),
    (r"k8s|kubernetes", " k8s "),
    (r"feature[ -]store", " featurestore "),
    (r"train(?:ing)?[ /-]serv(?:e|ing) skew", " trainserveskew "),
    (r"data[ -]loader", " dataloader "),
    (r"null values?|missing values?|empty values?", " null "),
    (r"look[ -]?ahead|future (?:data|information|values?)", " leak "),
)
_PHRASES = re.compile("|".join(rf"(?P<p{i}>\b(?:{pattern})\b)" for i, (pattern, _) in enumerate(PHRASE_SYNONYMS)))
WORD_SYNONYMS = {
    # memory
    "oom": "oom", "oomkill": "oom", "oomkil": "oom", "oomkilled": "oom",
    # divergence
    "nan": "nan", "nans": "nan", "diverg": "nan", "divergence": "nan", "diverge": "nan", "inf": "nan",
    "explod": "nan",
    # leakage
    "leak": "leak", "leakag": "leak", "leaky": "leak",
    # duplicates
    "duplicat": "dup", "dup": "dup", "dupe": "dup", "dedup": "dup", "deduplicat": "dup",
    # overfitting
    "overfit": "overfit", "overfitt": "overfit", "memoriz": "overfit", "memoris": "overfit",
    # infrastructure words people use interchangeably
    "cuda": "gpu", "vram": "gpu", "gpu": "gpu",
    "cert": "cert", "certificat": "cert", "tls": "cert", "ssl": "cert",
    "db": "database", "databas": "database", "postgr": "database", "postgresql": "database",
    "config": "config", "configuration": "config", "cfg": "config", "configur": "config", "setting": "config",
    "deploy": "deploy", "deployment": "deploy", "rollout": "deploy", "releas": "deploy",
    "timeout": "timeout", "deadlin": "timeout",
    "null": "null", "none": "null", "empty": "null", "blank": "null",
    "lr": "lr", "stale": "stale", "outdat": "stale",
    "label": "label", "target": "label",
    "disk": "disk", "storag": "disk",
    "expir": "expir", "expiry": "expir", "laps": "expir",
    "spot": "preempt", "preempt": "preempt", "preempti": "preempt", "reclaim": "preempt",
}
PREFIX = 7
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TOKEN = re.compile(r"\d+(?:\.\d+)+|[a-z0-9]+(?:_[a-z0-9]+)*")


@functools.lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """Light stemming: plural s, -ing, -ed (with a doubled final consonant undone), final e."""
    if len(word) <= 3 or "_" in word or any(c.isdigit() for c in word):
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix, min_length in (("ing", 6), ("ed", 5)):
        if word.endswith(suffix) and len(word) >= min_length:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    # Long words sharing their first 7 letters are nearly always one family (preemptible,
    # preemption; checkpointing, checkpoints; certificates, certification).
    return word[:PREFIX] if len(word) > PREFIX + 1 else word


def _phrase(match: re.Match[str]) -> str:
    return PHRASE_SYNONYMS[int(match.lastgroup[1:])][1]


@functools.lru_cache(maxsize=20_000)
def analyze(text: str) -> tuple[tuple[str, str], ...]:
    """(term, surface word) pairs: short tokens and numbers are kept ("OOM", "p95", "v2", "12"),
    stop words dropped, words lightly stemmed and mapped through the domain synonyms.

    Cached: a team's earlier failures are analysed again for every new failure."""
    text = _PHRASES.sub(_phrase, _CAMEL.sub(" ", text or "").lower())
    pairs = []
    for token in _TOKEN.findall(text):
        if token in STOP_WORDS or (len(token) == 1 and not token.isdigit()):
            continue
        parts = [token] if "_" not in token else [token, *token.split("_")]
        for part in parts:
            if part in STOP_WORDS or (len(part) == 1 and not part.isdigit()):
                continue
            stemmed = stem(part)
            pairs.append((WORD_SYNONYMS.get(stemmed, WORD_SYNONYMS.get(part, stemmed)), part))
    return tuple(pairs)


def tokens(text: str) -> list[str]:
    return [term for term, _ in analyze(text)]


# Kept for callers of the old name.
words = tokens


class SimilarityUnavailableError(RuntimeError):
    """The similarity model cannot answer; the rule takes over."""


# --- Failures as the models see them --------------------------------------------------------

FIELDS = ("title", "what", "approach", "cause", "lessons", "error")


@dataclass(frozen=True)
class FailureText:
    """One failure, kind-neutral: ``what`` is the hypothesis or what happened, ``cause`` the root
    cause (post-mortems), ``lessons`` the lessons' text and next steps, ``error`` type and message."""

    key: tuple[str, int]
    team_id: int
    title: str = ""
    what: str = ""
    approach: str = ""
    cause: str = ""
    lessons: str = ""
    error: str = ""
    failure_mode: str = ""
    error_type: str = ""

    def text(self) -> str:
        return "\n".join(getattr(self, name) for name in FIELDS if getattr(self, name))


@dataclass
class Scored:
    score: float
    terms: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


# Field weights of the whole-record vector; error text weighs little (boilerplate).
FIELD_WEIGHTS = {"title": 1.6, "what": 1.0, "approach": 0.8, "cause": 1.6, "lessons": 1.2, "error": 0.35}
# The combination: whole-record similarity, cause similarity, title similarity.
W_CONTENT, W_CAUSE, W_TITLE = 0.45, 0.35, 0.20
SAME_MODE_BONUS, OTHER_MODE_PENALTY, SAME_ERROR_BONUS = 0.04, 0.10, 0.02
# Raw combinations of real repeats seldom exceed ~0.6: stretch them onto [0, 1].
SCALE = 2.0
NEAR_IDENTICAL_TITLE = 0.85
OTHER_NUMBER_FACTOR = 0.7
CAUSES_MATCH = 0.30


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    dot = sum(weight * b.get(term, 0.0) for term, weight in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def _normalised_title(title: str) -> tuple[str, ...]:
    return tuple(t for t in tokens(title) if t not in RETRY_WORDS)


def _numbers(terms: Iterable[str]) -> frozenset[str]:
    return frozenset(t for t in terms if any(c.isdigit() for c in t))


class _Analysed:
    def __init__(self, failure: FailureText):
        self.failure = failure
        self.fields = {name: Counter(tokens(getattr(failure, name))) for name in FIELDS}
        self.vocabulary = set().union(*self.fields.values())
        self.title = _normalised_title(failure.title)
        cause = self.fields["cause"] + self.fields["lessons"]
        self.has_cause = bool(cause)
        self.cause = cause or (self.fields["what"] + self.fields["approach"])


@functools.lru_cache(maxsize=20_000)
def _analysed(failure: FailureText) -> _Analysed:
    """Per-failure analysis does not depend on the other failures: kept across detections."""
    return _Analysed(failure)


class FieldwiseSimilarity:
    """Field-wise TF-IDF over the team's failures, plus title identity and cause agreement.

    Score in [0, 1]. An identical or near-identical title (same words once "retry"/"again"
    are set aside, same numbers) is always at least in the review band, and in the automatic
    band when the causes agree too; ``rank`` reports that as a reason.
    """

    name = "field-wise tf-idf"

    def __init__(self, review_threshold: float = 0.5, auto_threshold: float = 0.8):
        self.review_threshold = review_threshold
        self.auto_threshold = auto_threshold

    def rank(self, failure: FailureText, candidates: Sequence[FailureText]) -> list[Scored]:
        query = _analysed(failure)
        if not query.vocabulary:
            raise SimilarityUnavailableError("the failure has no words to compare")
        others = [_analysed(c) for c in candidates]
        everyone = [query, *others]
        document_frequency: Counter[str] = Counter()
        for analysed in everyone:
            document_frequency.update(analysed.vocabulary)
        total = len(everyone)
        idf = {term: math.log((1 + total) / (1 + df)) + 1 for term, df in document_frequency.items()}

        def weighted(counter: Counter) -> dict[str, float]:
            return {term: (1 + math.log(count)) * idf.get(term, 1.0) for term, count in counter.items()}

        def whole(analysed: _Analysed) -> dict[str, float]:
            vector: dict[str, float] = {}
            for name, weight in FIELD_WEIGHTS.items():
                for term, value in weighted(analysed.fields[name]).items():
                    vector[term] = vector.get(term, 0.0) + weight * value
            return vector

        query_whole, query_cause = whole(query), weighted(query.cause)
        query_title = weighted(Counter(query.title))
        surface = {term: word for name in FIELDS for term, word in reversed(analyze(getattr(failure, name)))}
        results = []
        for other in others:
            other_whole = whole(other)
            content = _cosine(query_whole, other_whole)
            cause = _cosine(query_cause, weighted(other.cause))
            if not (query.has_cause and other.has_cause):
                cause *= 0.8  # a proxy (what was tried) stands in for the cause
            title = _cosine(query_title, weighted(Counter(other.title)))
            raw = W_CONTENT * content + W_CAUSE * cause + W_TITLE * title
            mode_a, mode_b = failure.failure_mode, other.failure.failure_mode
            if mode_a and mode_b:
                raw += SAME_MODE_BONUS if mode_a == mode_b else -OTHER_MODE_PENALTY
            if failure.error_type and failure.error_type == other.failure.error_type:
                raw += SAME_ERROR_BONUS
            score = max(0.0, min(1.0, raw * SCALE))
            reasons = []
            query_numbers, other_numbers = _numbers(query.title), _numbers(other.title)
            if query.title and (query.title == other.title
                                or (query_numbers == other_numbers and title >= NEAR_IDENTICAL_TITLE)):
                # An identical or near-identical title of the same team is never missed.
                reasons.append("identical title" if query.title == other.title else "near-identical title")
                causes_agree = cause >= CAUSES_MATCH or content >= 0.6
                if causes_agree:
                    reasons.append("causes agree")
                score = max(score, min(1.0, self.auto_threshold if causes_agree else self.review_threshold))
            elif query_numbers and other_numbers and not query_numbers & other_numbers:
                score *= OTHER_NUMBER_FACTOR  # "exp 12" and "exp 31" are different runs
                reasons.append("titles name different numbers")
            contributions = Counter({term: weight * other_whole[term] for term, weight in query_whole.items()
                                     if term in other_whole})
            terms = [surface.get(term, term) for term, _ in contributions.most_common(8)]
            results.append(Scored(score=round(score, 4), terms=terms, reasons=reasons))
        return results


class TfidfSimilarity:
    """The plain text model: cosine of TF-IDF vectors, IDF over the query and its candidates.

    Kept as an alternative backend with the simplest interface (``scores``)."""

    name = "tf-idf cosine"

    def scores(self, query: str, candidates: Sequence[str]) -> list[float]:
        documents = [Counter(tokens(query))] + [Counter(tokens(text)) for text in candidates]
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
        return [_cosine(query_vector, vector(document)) for document in documents[1:]]


def rule_score(root_cause: str, earlier_root_cause: str) -> float:
    """The fallback: the share of root-cause words the two failures have in common (Jaccard).

    Callers only compare failures of the same team and failure mode.
    """
    mine, theirs = set(tokens(root_cause)), set(tokens(earlier_root_cause))
    if not mine or not theirs:
        return 0.0
    return len(mine & theirs) / len(mine | theirs)
