"""The shared kernel: teams, memberships and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class TeamQuerySet(models.QuerySet):
    def with_member_counts(self) -> TeamQuerySet:
        return self.annotate(member_count=models.Count("memberships", distinct=True))

    def for_member(self, user) -> TeamQuerySet:
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)


class Team(TimeStampedModel):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def has_member(self, user) -> bool:
        return user.is_authenticated and self.memberships.filter(user=user).exists()


class Membership(TimeStampedModel):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        LEAD = "lead", "Lead"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        ordering = ["team__name", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "team"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def is_lead(self) -> bool:
        return self.role == self.Role.LEAD


def hash_token_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A personal API token. Only a SHA-256 hash of the key is stored; the key is shown once."""

    PREFIX_LENGTH = 8

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="API token")
    prefix = models.CharField(max_length=PREFIX_LENGTH, help_text="First characters of the key, to recognise it")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) for {self.user}"

    @classmethod
    def issue(cls, *, user, name: str = "API token") -> tuple[ApiToken, str]:
        """Create a token and return it with the raw key (the only time the key is available)."""
        raw_key = secrets.token_hex(20)
        token = cls.objects.create(user=user, name=name, prefix=raw_key[: cls.PREFIX_LENGTH],
                                   key_hash=hash_token_key(raw_key))
        return token, raw_key

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class IdempotencyKeyQuerySet(models.QuerySet):
    def expired(self, now=None) -> IdempotencyKeyQuerySet:
        now = now or timezone.now()
        return self.filter(created_at__lt=now - IdempotencyKey.LIFETIME)


class IdempotencyKey(models.Model):
    """The first answer to an API create sent with an ``Idempotency-Key`` header, so a retried
    request (a double click, a client retry after a timeout) gets that answer again instead of
    creating a second record. ``status_code`` is null while the first request is in progress."""

    LIFETIME = dt.timedelta(hours=24)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the method, path and body")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = IdempotencyKeyQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.key} ({self.user_id})"


class OutboxMessageQuerySet(models.QuerySet):
    def due(self, now=None) -> OutboxMessageQuerySet:
        """Messages nobody is publishing: never claimed, or their claim's lease ran out."""
        return self.filter(available_at__lte=now or timezone.now())


class OutboxMessage(models.Model):
    """A task that must run after a write, stored with the write (``learninghub.kernel.outbox``).

    The row is inserted in the write's transaction, published to the broker when that transaction
    commits and deleted once the broker accepted it. A row left behind (broker down, process
    killed) is published by the ``drain_outbox`` beat task. ``available_at`` is a lease: until
    then the process that wrote (or claimed) the row is publishing it and the drain leaves it be.
    """

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    eta = models.DateTimeField(null=True, blank=True, help_text="run no earlier than this (a countdown)")
    created_at = models.DateTimeField(default=timezone.now)
    available_at = models.DateTimeField(default=timezone.now, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    objects = OutboxMessageQuerySet.as_manager()

    class Meta:
        ordering = ["available_at", "pk"]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"
