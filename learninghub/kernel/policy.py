"""The one access policy: who may read, write and lead a team's records.

- Everyone signed in reads every team's records, except post-mortems marked ``restricted``
  (and what hangs off them: their lessons, action items, the applications recorded in them),
  which only that team's members see.
- Writing a team's records needs membership; deleting, closing and confirming need a lead.
- One staff rule: staff and superusers may read, write and lead every team.
- Writes made by the system itself (tasks, imports, demo data) name :data:`SYSTEM` as their
  actor instead of ``None``; services accept it and skip the person checks.

The restricted rule exists once, in :func:`restricted_postmortem_q` (and its complement,
:func:`hidden_from`, beside it, for the lists' notes of what they leave out). Model querysets keep their
``visible_to(user)`` methods, and those call it; :func:`visible_prefetch` applies them to a
prefetch, so nested fields can't load what the list would hide.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q, QuerySet

from learninghub.kernel.models import Membership, Team


class _SystemActor:
    """The actor of writes no person made. Not a user: ``created_by`` fields stay empty."""

    is_authenticated = True
    is_staff = False
    is_superuser = False
    pk = None

    def __repr__(self) -> str:
        return "SYSTEM"

    def __reduce__(self) -> str:
        return "SYSTEM"


SYSTEM: Final = _SystemActor()


def is_system(actor: Any) -> bool:
    return actor is SYSTEM


def user_or_none(actor: Any):
    """The person behind ``actor`` for ``created_by``-style fields (None for the system)."""
    return None if actor is None or actor is SYSTEM else actor


def is_privileged(user: Any) -> bool:
    """The one staff rule: staff and superusers may read, write and lead every team."""
    return bool(user is not None and user.is_authenticated and (user.is_staff or user.is_superuser))


def _authenticated(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated)


def team_ids_for(user: Any) -> set[int]:
    """Ids of the teams a user belongs to, cached on the user object for the request."""
    if not _authenticated(user) or is_system(user):
        return set()
    cached = getattr(user, "_learninghub_team_ids", None)
    if cached is None:
        cached = set(Membership.objects.filter(user=user).values_list("team_id", flat=True))
        user._learninghub_team_ids = cached
    return cached


def lead_team_ids_for(user: Any) -> set[int]:
    """Ids of the teams a user leads, cached on the user object for the request."""
    if not _authenticated(user) or is_system(user):
        return set()
    cached = getattr(user, "_learninghub_lead_team_ids", None)
    if cached is None:
        cached = set(Membership.objects.filter(user=user, role=Membership.Role.LEAD)
                     .values_list("team_id", flat=True))
        user._learninghub_lead_team_ids = cached
    return cached


# --- The restricted-post-mortem rule -----------------------------------------------------------


def restricted_postmortem_q(user: Any, prefix: str = "") -> Q:
    """The condition "visible to ``user``" for post-mortems: not restricted, or of a team the user
    is in (staff and the system see all).

    ``prefix`` reaches the post-mortem through a relation: ``""`` on PostMortem itself,
    ``"postmortem__"`` on rows that (may) belong to one — a row with no post-mortem is visible —
    ``"lesson__postmortem__"`` two hops away. Membership is a subquery, not a join, so callers
    never need ``distinct()`` (which would break counts, annotations and ordering).
    """
    if not _authenticated(user):
        return Q(pk__in=[])
    if is_system(user) or is_privileged(user):
        return Q()
    visible = Q(**{f"{prefix}restricted": False}) | Q(**{f"{prefix}team_id__in": _member_team_ids(user)})
    if prefix:
        visible |= Q(**{f"{prefix}isnull": True})
    return visible


def hidden_from(queryset: QuerySet, user: Any, via: str = "") -> QuerySet:
    """The rows of ``queryset`` that :func:`restricted_postmortem_q` hides from ``user`` (its
    complement, for the lists' "N hidden" notes): restricted post-mortems of teams the user is not
    in, or, with ``via`` naming the foreign key to one, the rows that hang off those.

    Not written as ``exclude(restricted_postmortem_q(...))``: negating its OR of a team subquery
    and a null check leaves the planner no plan but reading every row; this plain conjunction
    lets it start from the few restricted post-mortems (partial index
    ``postmortem_restricted_team``) or from the list's own filter (an owner), whichever is smaller.
    """
    if not _authenticated(user) or is_system(user) or is_privileged(user):
        # Signed-out viewers get no lists at all; staff and the system see everything.
        return queryset.none()
    prefix = f"{via}__" if via else ""
    return queryset.filter(Q(**{f"{prefix}restricted": True}) & ~Q(**{f"{prefix}team_id__in": _member_team_ids(user)}))


def _member_team_ids(user: Any) -> QuerySet:
    """The teams ``user`` is in, as a subquery (not a join: no ``distinct()`` ever needed)."""
    return Membership.objects.filter(user=user).values("team_id")


#: How many hidden rows the lists' notes count exactly before saying "more than".
HIDDEN_COUNT_CAP = 1_000


def hidden_by_team(filtered: QuerySet, team_path: str) -> list[tuple[str | None, int]]:
    """(team name, count) of the rows of ``filtered`` (the restricted rows a list's filters match
    that the viewer may not open), by team name: the lists say how many they leave out and whose
    (``partials/_restricted_note.html``), so they reconcile with figures that count them.

    Counted exactly up to :data:`HIDDEN_COUNT_CAP` rows (a team's or a month's drill-down, a
    filtered list); past that — an unfiltered list of a large organisation, where no one figure
    reconciles with it — the answer is ``[(None, HIDDEN_COUNT_CAP)]``, "more than that many, of
    other teams": one query reading at most that many rows, never every hidden row of the history.
    """
    cap = HIDDEN_COUNT_CAP
    names = list(filtered.order_by().values_list(f"{team_path}name", flat=True)[:cap + 1])
    if len(names) > cap:
        return [(None, cap)]
    return sorted(Counter(names).items())


def visible_prefetch(lookup: str, user: Any, queryset: QuerySet, *, to_attr: str | None = None) -> Prefetch:
    """A prefetch of related rows narrowed by their queryset's ``visible_to`` (the rule above)."""
    return Prefetch(lookup, queryset=queryset.visible_to(user), to_attr=to_attr)


# --- Reading, writing, leading -----------------------------------------------------------------


def team_id_of(record: Any) -> int | None:
    """The team a record belongs to: a Team, an id, anything with ``team_id``, or an action item or
    a lesson application (through its post-mortem or experiment). None for organisation-wide
    records (award cycles, categories, nominations)."""
    if record is None:
        return None
    if isinstance(record, int):
        return record
    if isinstance(record, Team):
        return record.pk
    if hasattr(record, "team_id"):
        return record.team_id
    for relation in ("postmortem", "experiment"):
        parent = getattr(record, relation, None)
        if parent is not None:
            return parent.team_id
    return None


def _is_restricted(record: Any) -> bool:
    if isinstance(record, int | Team) or record is None:
        return False
    if hasattr(record, "restricted"):
        return bool(record.restricted)
    if getattr(record, "postmortem_id", None):
        return bool(record.postmortem.restricted)
    return False


def can_read(user: Any, record_or_team_id: Any, *, restricted: bool = False) -> bool:
    """May ``user`` open this record? ``restricted`` is for a bare team id; a record says itself
    (a post-mortem by its flag, its action items and lessons by their post-mortem's)."""
    if not _authenticated(user):
        return False
    if is_system(user) or is_privileged(user):
        return True
    if not (restricted or _is_restricted(record_or_team_id)):
        return True
    return team_id_of(record_or_team_id) in team_ids_for(user)


def can_write(user: Any, team: Team | int | Any) -> bool:
    """May ``user`` create or edit records of this team (a Team, an id, or one of its records)?"""
    if not _authenticated(user):
        return False
    return is_system(user) or is_privileged(user) or team_id_of(team) in team_ids_for(user)


def can_lead(user: Any, team: Team | int | Any) -> bool:
    """May ``user`` delete this team's records, close its cycles, confirm its repeat links?"""
    if not _authenticated(user):
        return False
    return is_system(user) or is_privileged(user) or team_id_of(team) in lead_team_ids_for(user)


def can_write_anywhere(user: Any) -> bool:
    """Is there any team ``user`` may create records for (to offer a "New" button)?"""
    return is_system(user) or is_privileged(user) or bool(team_ids_for(user))


def can_lead_anywhere(user: Any) -> bool:
    """Does ``user`` lead some team (organisation-wide acts such as advancing award cycles)?"""
    return is_system(user) or is_privileged(user) or bool(lead_team_ids_for(user))


def writable_teams(user: Any) -> QuerySet[Team]:
    """The teams ``user`` may create records for, by name."""
    teams = Team.objects.order_by("name")
    if is_system(user) or is_privileged(user):
        return teams
    if not _authenticated(user):
        return teams.none()
    return teams.filter(pk__in=Membership.objects.filter(user=user).values("team_id"))


def require_read(user: Any, record: Any) -> None:
    if not can_read(user, record):
        raise PermissionDenied("You may not see this record.")


def require_write(user: Any, team: Team | int | Any) -> None:
    if not can_write(user, team):
        raise PermissionDenied("Only members of this team can change its records.")


def require_lead(user: Any, team: Team | int | Any) -> None:
    if not can_lead(user, team):
        raise PermissionDenied("Only leads of this team (or staff) can do this.")
