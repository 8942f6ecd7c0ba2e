"""Award API: categories, cycles (by month, results once closed, advance by hand), nominations,
and the caller's own votes. Every write goes through awards.services."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from awards import services
from awards.api.serializers import (
    AdvanceSerializer,
    AwardCategorySerializer,
    AwardCycleSerializer,
    NominationSerializer,
    VoteSerializer,
)
from awards.filters import CategoryFilter, CycleFilter, NominationFilter, VoteFilter
from awards.models import AwardCategory, AwardCycle, CycleTransition, Nomination, Vote
from learninghub.kernel.api.viewsets import TeamScopedReadOnlyViewSet, TeamScopedViewSet
from learninghub.kernel.periods import Month

MONTH_PARAMETER = OpenApiParameter("month", OpenApiTypes.STR, OpenApiParameter.PATH,
                                   description="The cycle's month, YYYY-MM")


class AwardCategoryViewSet(TeamScopedReadOnlyViewSet):
    """Award categories (managed by staff in the admin site; retired ones keep their history)."""

    serializer_class = AwardCategorySerializer
    filterset_class = CategoryFilter
    lookup_field = "slug"

    def safely_get_queryset(self):
        return AwardCategory.objects.order_by("position", "name")


@extend_schema_view(retrieve=extend_schema(parameters=[MONTH_PARAMETER]))
class AwardCycleViewSet(TeamScopedReadOnlyViewSet):
    """Award cycles, one per month, newest first. ``results`` stays null until the cycle closes."""

    serializer_class = AwardCycleSerializer
    filterset_class = CycleFilter
    lookup_field = "month"
    lookup_value_regex = r"\d{4}-\d{2}"

    def safely_get_queryset(self):
        return AwardCycle.objects.prefetch_related(
            Prefetch("transitions", queryset=CycleTransition.objects.select_related("by"))).order_by("-month")

    def get_object(self):
        try:
            month = Month.parse(self.kwargs["month"])
        except ValueError as exc:
            raise Http404("Not a month.") from exc
        cycle = self.get_queryset().filter(month=month.first_day).first()
        if cycle is None:
            raise Http404("No award cycle for this month.")
        self.check_object_permissions(self.request, cycle)
        return cycle

    @extend_schema(request=AdvanceSerializer, responses=AwardCycleSerializer, parameters=[MONTH_PARAMETER])
    @action(detail=True, methods=["post"])
    def advance(self, request, month=None):
        """Move the cycle one stage on (nominating → voting → closed). Team leads and staff only."""
        if not services.can_advance_cycles(request.user):
            raise PermissionDenied("Only team leads or staff can advance an award cycle.")
        cycle = self.get_object()
        serializer = AdvanceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.cycle_advance(cycle=cycle, by=request.user, expected_state=serializer.validated_data.get("state"))
        return Response(self.get_serializer(self.get_object()).data)


class NominationViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        TeamScopedViewSet):
    """Nominations (public within the organisation). Create one while its cycle is nominating;
    filter with ``cycle=YYYY-MM``, ``category`` (slug), ``nominee`` (username)."""

    serializer_class = NominationSerializer
    filterset_class = NominationFilter

    def safely_get_queryset(self):
        return (Nomination.objects.select_related("cycle", "category", "nominee", "nominator")
                .order_by("-cycle__month", "category__position", "created_at", "pk"))

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.nomination_create(
            cycle=data["cycle"], category=data["category"], nominator=self.request.user, nominee=data["nominee"],
            reason=data["reason"], experiment=data.get("experiment"), postmortem=data.get("postmortem"))


class VoteViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                  TeamScopedViewSet):
    """Your own votes (nobody else's: the ballot is secret). POST casts a vote, or changes your
    vote in that category of that cycle (201 when new, 200 when changed)."""

    serializer_class = VoteSerializer
    filterset_class = VoteFilter

    def safely_get_queryset(self):
        # By id: the schema generator asks as AnonymousUser (no votes), not a user row.
        return (Vote.objects.filter(voter_id=self.request.user.pk).select_related("cycle", "category", "nominee")
                .order_by("-cycle__month", "category__position", "pk"))

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        vote, created = services.vote_cast(cycle=data["cycle"], category=data["category"], voter=request.user,
                                           nominee=data["nominee"])
        return Response(self.get_serializer(vote).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
