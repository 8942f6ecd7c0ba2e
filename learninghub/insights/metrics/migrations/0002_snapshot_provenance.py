from django.db import migrations, models
from django.db.models import F


def mark_computed_rows_stale(apps, schema_editor):
    """Rows computed before the hour sums were stored have none: recompute them (the nightly sweep
    or the next page does), so no organisation figure is ever derived from a missing sum."""
    MetricSnapshot = apps.get_model("metrics", "MetricSnapshot")
    MetricSnapshot.objects.filter(computed_at__isnull=False).update(dirty_version=F("computed_version") + 1)


class Migration(migrations.Migration):

    dependencies = [
        ('metrics', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='metricsnapshot',
            name='computed_by',
            field=models.CharField(blank=True, choices=[('scheduled', 'the scheduled nightly recomputation'), ('edit', 'the recomputation after an edit'), ('live', 'a live computation for a page'), ('manual', 'a recomputation run by hand (command, API or setup)')], help_text='The computation that produced these figures (empty: never computed)', max_length=16),
        ),
        migrations.AddField(
            model_name='metricsnapshot',
            name='recovery_hours_total',
            field=models.FloatField(default=0.0, help_text='Sum of the recovery samples, in hours'),
        ),
        migrations.AddField(
            model_name='metricsnapshot',
            name='time_to_detect_hours_total',
            field=models.FloatField(default=0.0, help_text='Sum of the detection samples, in hours'),
        ),
        migrations.RunPython(mark_computed_rows_stale, migrations.RunPython.noop),
    ]
