from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from learninghub.kernel.models import ApiToken


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print only the key on stdout (it is stored hashed)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="API token (command line)")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        _token, raw_key = ApiToken.issue(user=user, name=name)
        self.stdout.write(raw_key)
