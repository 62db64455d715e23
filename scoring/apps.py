from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender: AppConfig, **kwargs: object) -> None:
    # Later migrations add models and permissions; keep the admin role complete.
    from django.contrib.auth.models import Group, Permission

    from .roles import grant_role_permissions

    grant_role_permissions(Group, Permission)


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = "Lead scoring"

    def ready(self) -> None:
        post_migrate.connect(_sync_roles, sender=self)
