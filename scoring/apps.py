from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender: AppConfig, **kwargs: object) -> None:
    # Later migrations add models and permissions; keep the admin role complete.
    from django.contrib.auth.models import Group, Permission

    from .roles import grant_role_permissions

    grant_role_permissions(Group, Permission)


def _default_rejection_reasons(sender: AppConfig, **kwargs: object) -> None:
    # Sales cannot reject a handoff without a reason to pick; offer the usual ones when the list
    # is empty (a new database, or one flushed by a test).
    from .models import RejectionReason

    if not RejectionReason.objects.exists():
        RejectionReason.objects.bulk_create(
            RejectionReason(code=code, label=label, position=position)
            for position, (code, label) in enumerate(DEFAULT_REJECTION_REASONS)
        )


DEFAULT_REJECTION_REASONS = [
    ("not-ready", "Not ready to buy yet"),
    ("wrong-persona", "Wrong persona / no decision maker"),
    ("competitor", "Competitor"),
    ("bad-data", "Bad or incomplete data"),
    ("no-budget", "No budget"),
    ("existing-customer", "Already a customer"),
    ("duplicate", "Duplicate"),
]


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = "Lead scoring"

    def ready(self) -> None:
        from leadscoring.db import install_out_of_range_readers

        from . import lookups  # noqa: F401 - registers field__any_of

        install_out_of_range_readers()

        post_migrate.connect(_sync_roles, sender=self)
        post_migrate.connect(_default_rejection_reasons, sender=self)
