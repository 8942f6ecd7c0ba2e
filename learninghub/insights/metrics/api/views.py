"""GET /api/v1/metrics/ (snapshots by team and month range) and POST /api/v1/metrics/recompute/."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from learninghub.insights.metrics import engine
from learninghub.insights.metrics.api.serializers import (
    MetricSnapshotSerializer,
    MetricsResponseSerializer,
    MonthRangeSerializer,
    RecomputeResponseSerializer,
)
from learninghub.insights.metrics.scheduling import tasks_in_process
from learninghub.insights.metrics.selectors import snapshot_set
from learninghub.insights.metrics.tasks import recompute_all, recompute_team
from learninghub.kernel.periods import Month
from learninghub.kernel.policy import can_lead, is_privileged
from learninghub.kernel.queue import enqueue

DEFAULT_MONTHS = 12


RANGE_PARAMETERS = [
    OpenApiParameter("team", OpenApiTypes.STR, description="Team slug; omit for the organisation"),
    OpenApiParameter("from", OpenApiTypes.STR, description="First month, YYYY-MM (default: 11 months before `to`)"),
    OpenApiParameter("to", OpenApiTypes.STR, description="Last month, YYYY-MM (default: the current month)"),
]


class MetricsView(APIView):
    """Learning metrics, one object per month: every metric, the counts behind each ratio,
    ``computed_at`` and ``computed_by`` (the computation that produced it). A stale month is
    served as it is (``stale: true``) while a worker recomputes it; missing months, and stale
    ones when no worker can take them, are computed in-process (``live: true``). A constant
    number of queries whatever the months asked for."""

    @extend_schema(parameters=RANGE_PARAMETERS, responses=MetricsResponseSerializer)
    def get(self, request: Request) -> Response:
        params = MonthRangeSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        team = params.validated_data.get("team")
        last = params.validated_data.get("to") or Month.current()
        first = params.validated_data.get("from") or last.shift(-(DEFAULT_MONTHS - 1))
        if first > last:
            first = last
        months = Month.range(first, last)
        if team is not None:
            snapshots = snapshot_set(months, team_ids=[team.pk])
        else:
            snapshots = snapshot_set(months, team_ids=[], organisation=True)
        rows = snapshots.series(team.pk if team else None, months)
        return Response({
            "team": team.slug if team else None,
            "live": snapshots.computed_live,
            "results": MetricSnapshotSerializer(rows, many=True).data,
        })


class RecomputeView(APIView):
    """Schedule a recomputation: a team's months (its leads and staff), or every team's and the
    organisation's (staff). Without months: every month with records. 202 when scheduled; 200
    when it ran in-process (no broker)."""

    @extend_schema(request=MonthRangeSerializer, responses={200: RecomputeResponseSerializer,
                                                             202: RecomputeResponseSerializer})
    def post(self, request: Request) -> Response:
        params = MonthRangeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        team = params.validated_data.get("team")
        if team is not None and not can_lead(request.user, team):
            raise PermissionDenied("Only leads of this team (or staff) can recompute its metrics.")
        if team is None and not is_privileged(request.user):
            raise PermissionDenied("Only staff can recompute the whole organisation's metrics.")
        first, last = params.validated_data.get("from"), params.validated_data.get("to")
        if first or last:
            last = last or Month.current()
            months = Month.range(first or last.shift(-(DEFAULT_MONTHS - 1)), last)
        else:
            months = engine.data_months([team.pk] if team else None)
        body = {"team": team.slug if team else None, "months": [month.key for month in months]}
        if not months:
            return Response({**body, "status": "nothing to compute"}, status=status.HTTP_200_OK)
        task, args = (recompute_team, (team.pk, body["months"])) if team else (recompute_all, (body["months"],))
        if not tasks_in_process() and enqueue(task, *args):
            return Response({**body, "status": "scheduled"}, status=status.HTTP_202_ACCEPTED)
        task.apply(args=args)  # no broker (or in-process mode): compute now, in this request
        return Response({**body, "status": "computed"}, status=status.HTTP_200_OK)
