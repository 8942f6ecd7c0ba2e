from rest_framework import serializers

from learninghub.kernel.api.viewsets import TeamScopedReadOnlyViewSet
from learninghub.kernel.models import Membership, Team


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role"]


class TeamSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True)
    members = MembershipSerializer(source="memberships", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "description", "member_count", "members"]


class TeamViewSet(TeamScopedReadOnlyViewSet):
    """Teams with their members. Read-only: teams are managed in the admin."""

    serializer_class = TeamSerializer
    lookup_field = "slug"

    def safely_get_queryset(self):
        return Team.objects.with_member_counts().prefetch_related("memberships__user").order_by("name")
