"""What the admin screens share: rows the admin shows but never writes."""

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """For a ModelAdmin or an inline: list and open the rows, never add, change or delete them.

    These rows change only through the app's own screens and services (the queue's actions,
    the rule editor, publishing, the rescores), which check, log and notify; the admin must not
    be the way around them, whatever permissions a user's group holds.
    """

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
