"""Vocabularies shared by several apps (kept in the kernel so leaf apps need not import each other)."""

from django.db import models

# A record without a failure mode or kind (or with one no longer offered): the dashboards count
# it, and the lists filter it, under this value.
UNSPECIFIED = "unspecified"


class FailureMode(models.TextChoices):
    DATA_QUALITY = "data_quality", "Data quality"
    OVERFITTING = "overfitting", "Overfitting"
    INFRASTRUCTURE = "infrastructure", "Infrastructure"
    OTHER = "other", "Other"


class RepeatLinkSource(models.TextChoices):
    """Who set ``repeat_of``: a person, or the automatic detector (which a person can undo)."""

    NONE = "", "Not linked"
    MANUAL = "manual", "Set by a person"
    AUTOMATIC = "automatic", "Linked automatically"
