"""Demo data for the kernel: teams and their people. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from learninghub.kernel.models import Membership, Team

DEMO_PASSWORD = "learn-from-failure"

DEMO_TEAMS = [
    ("Recommendations", "recsys", "Ranking and recommendation models."),
    ("Data Platform", "data-platform", "Pipelines, feature stores and training infrastructure."),
    ("Search Quality", "search", "Query understanding and relevance."),
]

# username, first name, last name, {team slug: role}
DEMO_PEOPLE = [
    ("alice", "Alice", "Nguyen", {"recsys": "lead"}),
    ("bob", "Bob", "Okafor", {"recsys": "member", "data-platform": "member"}),
    ("carol", "Carol", "Silva", {"data-platform": "lead"}),
    ("dave", "Dave", "Kowalski", {"data-platform": "member"}),
    ("erin", "Erin", "Haddad", {"search": "lead"}),
    ("frank", "Frank", "Ito", {"search": "member", "recsys": "member"}),
]


@dataclass
class KernelDemo:
    teams: dict[str, Team]
    users: dict[str, object]


@transaction.atomic
def seed() -> KernelDemo:
    User = get_user_model()
    teams = {}
    for name, slug, description in DEMO_TEAMS:
        teams[slug], _ = Team.objects.update_or_create(slug=slug, defaults={"name": name,
                                                                             "description": description})
    users = {}
    for username, first, last, roles in DEMO_PEOPLE:
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last,
                                         "email": f"{username}@example.com"})
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        users[username] = user
        for slug, role in roles.items():
            Membership.objects.update_or_create(user=user, team=teams[slug], defaults={"role": role})
    admin, created = User.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"})
    if created:
        admin.set_password(DEMO_PASSWORD)
        admin.save(update_fields=["password"])
    users["admin"] = admin
    return KernelDemo(teams=teams, users=users)
