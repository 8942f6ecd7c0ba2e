"""Who may do what. Reading is open to every signed-in user (restricted post-mortems aside);
writing a team's records needs membership; deleting and closing need a lead (or staff)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from rest_framework import permissions

from learninghub.kernel.models import Membership, Team


def team_ids_for(user) -> set[int]:
    """Ids of the teams a user belongs to, cached on the user object for the request."""
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_learninghub_team_ids", None)
    if cached is None:
        cached = set(Membership.objects.filter(user=user).values_list("team_id", flat=True))
        user._learninghub_team_ids = cached
    return cached


def lead_team_ids_for(user) -> set[int]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_learninghub_lead_team_ids", None)
    if cached is None:
        cached = set(
            Membership.objects.filter(user=user, role=Membership.Role.LEAD).values_list("team_id", flat=True)
        )
        user._learninghub_lead_team_ids = cached
    return cached


def can_edit_team(user, team: Team | int) -> bool:
    team_id = team if isinstance(team, int) else team.pk
    return user.is_authenticated and (user.is_superuser or team_id in team_ids_for(user))


def can_lead_team(user, team: Team | int) -> bool:
    team_id = team if isinstance(team, int) else team.pk
    return user.is_authenticated and (user.is_staff or team_id in lead_team_ids_for(user))


def require_team_member(user, team: Team | int) -> None:
    if not can_edit_team(user, team):
        raise PermissionDenied("Only members of this team can change its records.")


def require_team_lead(user, team: Team | int) -> None:
    if not can_lead_team(user, team):
        raise PermissionDenied("Only leads of this team (or staff) can do this.")


class TeamRecordPermission(permissions.IsAuthenticated):
    """Object permission for records with a ``team_id``: read for all, write for members,
    delete for leads."""

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        team_id = obj.team_id
        if request.method == "DELETE":
            return can_lead_team(request.user, team_id)
        return can_edit_team(request.user, team_id)
