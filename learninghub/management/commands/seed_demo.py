"""Load the demo organisation. Idempotent: running it again changes nothing.

Each app contributes through its own ``<app>.demo.seed(kernel)`` function, in dependency
order, so the command never needs to know what the apps record.
"""

import importlib
import importlib.util

from django.core.management.base import BaseCommand

from learninghub import demo as kernel_demo

APP_DEMOS = [
    "experiments.demo",
    "postmortems.demo",
    "awards.demo",
    "learninghub.repeats.demo",
    "learninghub.metrics.demo",
]


class Command(BaseCommand):
    help = "Create demo teams, users and records (idempotent) and print how to sign in."

    def handle(self, *args, **options) -> None:
        kernel = kernel_demo.seed()
        self.stdout.write(f"Teams: {', '.join(team.name for team in kernel.teams.values())}")
        for module_name in APP_DEMOS:
            if importlib.util.find_spec(module_name) is None:
                continue
            summary = importlib.import_module(module_name).seed(kernel)
            if summary:
                self.stdout.write(f"{module_name.split('.')[-2]}: {summary}")
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in with any of these (password "
                                             f"“{kernel_demo.DEMO_PASSWORD}”):"))
        for username, user in kernel.users.items():
            roles = ", ".join(f"{m.team.slug} {m.role}" for m in user.memberships.select_related("team"))
            self.stdout.write(f"  {username:<8} {roles or 'staff (admin site)'}")
