from django import template
from django.utils.translation import ngettext

register = template.Library()


@register.filter
def days_or_hours(days: float | None) -> str:
    """A median duration in words a manager reads at a glance: hours below two days, else days."""
    if days is None:
        return "—"
    if days < 2:
        hours = round(days * 24, 1)
        return ngettext("%(n)s hour", "%(n)s hours", int(hours) or 1) % {"n": f"{hours:g}"}
    rounded = round(days, 1)
    return ngettext("%(n)s day", "%(n)s days", int(rounded)) % {"n": f"{rounded:g}"}
