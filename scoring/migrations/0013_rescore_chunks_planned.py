"""Runs plan their chunks: a chunk row exists from the start, pending until it is finished.

Chunk rows recorded before this finished when they were written, so they get a finished_at
(the migration's time; when exactly is not known). Runs still running keep working: their
chunks have no planned rows and are recorded as they finish, as before (scoring.runs).
"""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0012_handoff_model_checked_by_orm"),
    ]

    operations = [
        migrations.AddField(
            model_name="rescorechunk",
            name="finished_at",
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, null=True),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="rescorechunk",
            name="last_lead_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="rescorerun",
            name="progressed_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now, verbose_name="last progress"
            ),
        ),
    ]
