"""The one base every API viewset derives from: access policy and versioning in one place.

Modelled on PostHog's ``TeamAndOrgViewSetMixin`` (``posthog/api/routing.py``), much smaller:

- Subclasses implement :meth:`TeamScopedViewSet.safely_get_queryset`; ``get_queryset`` (which
  narrows it to what the caller may see) and ``get_permissions`` cannot be overridden — defining
  them, or giving an action its own ``permission_classes``, raises at import time.
- Reading needs a signed-in user; a record the caller may not see is not in the queryset, so it
  answers 404, never a 403 that would reveal it exists.
- Writing a record needs membership of its team, deleting it a lead (staff: every team); the
  policy in :mod:`learninghub.kernel.policy` decides. Creating is checked by the services, which
  know the team only after validation.
- Versioned resources (a ``version`` in the body) carry a weak ETag ``W/"<version>"``; updates
  may send it back in ``If-Match`` and a stale one answers 412, checked by the service's
  conditional update under the row lock (see ``learninghub.kernel.concurrency``).
- Creates accept an ``Idempotency-Key`` header: a retry answers the first response again (see
  ``learninghub.kernel.api.idempotency``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from rest_framework import mixins, permissions, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response

from learninghub.kernel import policy
from learninghub.kernel.api import idempotency

SEALED_METHODS = ("get_queryset", "get_permissions")
ETAG_ACTIONS = frozenset({"retrieve", "update", "partial_update", "create"})
IDEMPOTENT_ACTIONS = frozenset({"create"})


def weak_etag(version: int) -> str:
    return f'W/"{version}"'


class TeamScopedPermission(permissions.BasePermission):
    """Signed in to do anything; writes by the policy on the object's team (see the view's
    :meth:`~TeamScopedViewSet.may_change`)."""

    def has_permission(self, request: Request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request: Request, view, obj: Model) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True  # visibility is the queryset's job: what is not in it is a 404
        return view.may_change(request.user, obj, delete=request.method == "DELETE")


class TeamScopedViewSet(viewsets.GenericViewSet):
    """Base of every API viewset (combine with the DRF mixins the resource needs)."""

    _scoped_permission_classes: ClassVar = (TeamScopedPermission,)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in SEALED_METHODS:
            if name in cls.__dict__:
                raise TypeError(f"{cls.__qualname__} may not override {name}(): implement safely_get_queryset() "
                                "and let TeamScopedViewSet apply the access policy.")
        if "permission_classes" in cls.__dict__:
            raise TypeError(f"{cls.__qualname__} may not set permission_classes: the access policy decides.")
        if "queryset" in cls.__dict__ and cls.__dict__["queryset"] is not None:
            raise TypeError(f"{cls.__qualname__} may not set queryset: implement safely_get_queryset().")
        for attribute in cls.__dict__.values():
            if "permission_classes" in getattr(attribute, "kwargs", {}):
                raise TypeError(f"{cls.__qualname__}.{attribute.__name__} may not set permission_classes.")

    # --- Reading ---------------------------------------------------------------------------

    def safely_get_queryset(self) -> QuerySet:
        """The resource's rows with what it shows loaded; the base narrows it to the caller's."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement safely_get_queryset()")

    def get_queryset(self) -> QuerySet:
        queryset = self.safely_get_queryset()
        user = self.request.user
        if not (user and user.is_authenticated):
            return queryset.none()
        visible_to = getattr(queryset, "visible_to", None)
        return visible_to(user) if visible_to is not None else queryset

    def get_permissions(self) -> list[permissions.BasePermission]:
        return [permission() for permission in self._scoped_permission_classes]

    def get_visible_object(self) -> Model:
        """The record for an action that reads it but writes elsewhere (e.g. applying a lesson:
        the place where it is applied is checked by the service): 404 unless visible, no write check."""
        queryset = self.filter_queryset(self.get_queryset())
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        return get_object_or_404(queryset, **{self.lookup_field: self.kwargs[lookup_url_kwarg]})

    # --- Writing ---------------------------------------------------------------------------

    def may_change(self, user, obj: Model, *, delete: bool = False) -> bool:
        """Edit: members of the record's team; delete: its leads. Records of no team (award cycles,
        nominations) leave the decision to their service."""
        team_id = policy.team_id_of(obj)
        if team_id is None:
            return True
        return policy.can_lead(user, team_id) if delete else policy.can_write(user, team_id)

    # --- Idempotent creates -------------------------------------------------------------------

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # authenticated and permitted first
        self._idempotency_record = None
        if getattr(self, "action", None) in IDEMPOTENT_ACTIONS:
            self._idempotency_record = idempotency.begin(request)

    def dispatch(self, request, *args: Any, **kwargs: Any):
        self._idempotency_record = None
        response = None
        try:
            response = super().dispatch(request, *args, **kwargs)
            return response
        finally:
            if self._idempotency_record is not None:
                idempotency.finish(self._idempotency_record, response)

    # --- Versions: ETag out, If-Match in -----------------------------------------------------

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        data = getattr(response, "data", None)
        if (getattr(self, "action", None) in ETAG_ACTIONS and 200 <= response.status_code < 300
                and isinstance(data, dict) and isinstance(data.get("version"), int)):
            response["ETag"] = weak_etag(data["version"])
        return response


class TeamScopedReadOnlyViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, TeamScopedViewSet):
    pass


class TeamScopedModelViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                             mixins.DestroyModelMixin, mixins.ListModelMixin, TeamScopedViewSet):
    pass
