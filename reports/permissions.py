"""Who may see the dashboards and who may download the raw data.

Dashboards show aggregates only: everyone who may view lead scores (marketing, sales, admin).
Exports contain personal data (names, e-mail addresses, every tracked activity), so only
marketing, who own the data, and admins may download them; sales work leads in the app itself.
"""

from django.contrib.auth.models import AnonymousUser, User

from scoring.roles import ADMIN, MARKETING

DASHBOARD_PERMISSION = "scoring.view_leadscore"
EXPORT_ROLES = (MARKETING, ADMIN)


def can_view_dashboards(user: User | AnonymousUser) -> bool:
    return user.has_perm(DASHBOARD_PERMISSION)


def can_export(user: User | AnonymousUser) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name__in=EXPORT_ROLES).exists()
