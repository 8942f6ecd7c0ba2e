"""Seed the three award categories so they exist on every install (admins may add more)."""

from django.db import migrations

CATEGORIES = [
    ("fast-fail", "Fast Fail Award", "Quickly identifying a doomed approach.", 10),
    ("learning-champion", "Learning Champion", "Extracting the most insight from failures.", 20),
    ("pivot-master", "Pivot Master", "Successfully changing direction on failure signals.", 30),
]


def seed_categories(apps, schema_editor):
    AwardCategory = apps.get_model("awards", "AwardCategory")
    for slug, name, description, position in CATEGORIES:
        AwardCategory.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description, "position": position})


class Migration(migrations.Migration):

    dependencies = [("awards", "0001_initial")]

    operations = [migrations.RunPython(seed_categories, migrations.RunPython.noop)]
