"""Settings: ``base`` is everything, driven by the environment; ``test`` is the suite's profile."""

from learninghub.settings.base import *  # noqa: F403
