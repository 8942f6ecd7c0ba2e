"""Load the demo organisation. Idempotent: running it again changes nothing.

Each installed app contributes through its own ``<app>.demo.seed(kernel)`` function, found by
name in ``INSTALLED_APPS`` order (which is the dependency order), so the kernel never imports
an app and the command never needs to know what the apps record.
"""

import importlib
import importlib.util

from django.apps import apps
from django.core.management.base import BaseCommand

from learninghub.kernel import demo as kernel_demo


def app_demo_modules() -> list[str]:
    """``<app>.demo`` for every installed app (the kernel's own aside) that has one."""
    names = [f"{config.name}.demo" for config in apps.get_app_configs() if config.name != "learninghub.kernel"]
    return [name for name in names if importlib.util.find_spec(name) is not None]


class Command(BaseCommand):
    help = "Create demo teams, users and records (idempotent) and print how to sign in."

    def handle(self, *args, **options) -> None:
        kernel = kernel_demo.seed()
        self.stdout.write(f"Teams: {', '.join(team.name for team in kernel.teams.values())}")
        for module_name in app_demo_modules():
            summary = importlib.import_module(module_name).seed(kernel)
            if summary:
                self.stdout.write(f"{module_name.split('.')[-2]}: {summary}")
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in with any of these (password "
                                             f"“{kernel_demo.DEMO_PASSWORD}”):"))
        for username, user in kernel.users.items():
            roles = ", ".join(f"{m.team.slug} {m.role}" for m in user.memberships.select_related("team"))
            self.stdout.write(f"  {username:<8} {roles or 'staff (admin site)'}")
