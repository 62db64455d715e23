from django.db import migrations

# The reasons sales most often give; the list is edited in the admin afterwards.
REASONS = [
    ("not-ready", "Not ready to buy yet"),
    ("wrong-persona", "Wrong persona / no decision maker"),
    ("competitor", "Competitor"),
    ("bad-data", "Bad or incomplete data"),
    ("no-budget", "No budget"),
    ("existing-customer", "Already a customer"),
    ("duplicate", "Duplicate"),
]


def add_reasons(apps, schema_editor):
    RejectionReason = apps.get_model("scoring", "RejectionReason")
    for position, (code, label) in enumerate(REASONS):
        RejectionReason.objects.get_or_create(
            code=code, defaults={"label": label, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("scoring", "0003_pipeline")]

    operations = [migrations.RunPython(add_reasons, migrations.RunPython.noop)]
