"""Plain-language sentences for criteria ("+20 when the company is a target account")."""

from collections.abc import Mapping
from typing import Any

from django.db.models import Field
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from scoring.criteria import TYPES
from scoring.models import Account, Lead

_OPS = {
    "equals": gettext_lazy("is"),
    "not_equals": gettext_lazy("is not"),
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "contains": gettext_lazy("contains"),
    "icontains": gettext_lazy("contains (any case)"),
    "starts_with": gettext_lazy("starts with"),
    "gte": gettext_lazy("is at least"),
    "lte": gettext_lazy("is at most"),
    "between": gettext_lazy("is between"),
    "is_set": gettext_lazy("is filled in"),
    "is_not_set": gettext_lazy("is empty"),
}
OPERATOR_LABELS = _OPS

# Whole clauses, not subject + operator + value: German and Dutch put the verb of a "when" or
# "where" clause last ("wenn die Mitarbeiterzahl mindestens 100 ist").
_CLAUSES = {
    "equals": gettext_lazy("%(subject)s is %(value)s"),
    "not_equals": gettext_lazy("%(subject)s is not %(value)s"),
    "in": gettext_lazy("%(subject)s is one of %(value)s"),
    "not_in": gettext_lazy("%(subject)s is none of %(value)s"),
    "contains": gettext_lazy("%(subject)s contains %(value)s"),
    "icontains": gettext_lazy("%(subject)s contains %(value)s (any case)"),
    "starts_with": gettext_lazy("%(subject)s starts with %(value)s"),
    "gte": gettext_lazy("%(subject)s is at least %(value)s"),
    "lte": gettext_lazy("%(subject)s is at most %(value)s"),
    "is_set": gettext_lazy("%(subject)s is filled in"),
    "is_not_set": gettext_lazy("%(subject)s is empty"),
}


_FLAGS = {
    "account.is_target_account": gettext_lazy("the company is on the target-account list"),
    "account.is_competitor": gettext_lazy("the company is a competitor"),
    "lead.email_invalid": gettext_lazy("the lead's e-mail address bounced"),
    "lead.unsubscribed": gettext_lazy("the lead unsubscribed"),
}


def points_text(points: float | int) -> str:
    sign = "+" if points > 0 else ""
    if float(points).is_integer():
        points = int(points)
    return sign + number_format(points, use_l10n=True, force_grouping=True)


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list | tuple):
        return ", ".join(_value_text(v) for v in value)
    if isinstance(value, int | float):
        return number_format(value, use_l10n=True, force_grouping=True)
    return f"“{value}”"


def field_label(path: str) -> str:
    """`account.employee_count` -> "the company's employees"."""
    owner, _dot, name = path.partition(".")
    if name.startswith("attributes."):
        label = name.removeprefix("attributes.")
    else:
        model = Account if owner == "account" else Lead
        try:
            found = model._meta.get_field(name)
            # A reverse relation has no verbose name: its name reads as well.
            label = str(found.verbose_name) if isinstance(found, Field) else name
        except Exception:  # an unknown field still gets a readable sentence
            label = name
    if owner == "account":
        return _("the company's %(field)s") % {"field": label}
    if owner == "lead":
        return _("the lead's %(field)s") % {"field": label}
    return _("the activity's %(field)s") % {"field": label}


def condition_text(condition: Mapping[str, Any], *, activity: bool = False) -> str:
    field = str(condition.get("field", ""))
    subject = _("its %(field)s") % {"field": field} if activity else field_label(field)
    op = str(condition.get("op", ""))
    if op == "equals" and condition.get("value") is True and field in _FLAGS:
        return str(_FLAGS[field])
    value = condition.get("value")
    if op == "between" and isinstance(value, list | tuple) and len(value) == 2:
        return _("%(subject)s is between %(low)s and %(high)s") % {
            "subject": subject,
            "low": _value_text(value[0]),
            "high": _value_text(value[1]),
        }
    if op not in _CLAUSES:  # a definition still being written; say what it says
        return f"{subject} {op} {_value_text(value)}"
    return str(_CLAUSES[op]) % {"subject": subject, "value": _value_text(value)}


class _Words:
    """How the editor words a criterion (scoring.criteria.reading.Words), in the active language."""

    def __call__(self, message: str, **values: object) -> str:
        return _(message) % values if values else _(message)

    def points(self, points: object) -> str:
        return points_text(points if isinstance(points, int | float) else 0)

    def number(self, value: object) -> str:
        return _value_text(value)

    def kinds(self, item: Mapping[str, Any]) -> str:
        kinds = item.get("kinds") or ()
        return _(" or ").join(str(kind) for kind in kinds) if kinds else _("any activity")

    def condition(self, condition: Mapping[str, Any]) -> str:
        return condition_text(condition)

    def where(self, item: Mapping[str, Any]) -> str:
        return " ".join(
            _("where %(condition)s") % {"condition": condition_text(c, activity=True)}
            for c in item.get("where") or ()
            if isinstance(c, Mapping)
        )

    def window(self, item: Mapping[str, Any]) -> str:
        if not item.get("window_days"):
            return ""
        return _("in the last %(days)s days") % {"days": _value_text(item["window_days"])}


def criterion_sentence(item: Mapping[str, Any]) -> str:
    """One sentence for a rules-as-code criterion dict, readable without knowing the format; its
    type words it (a definition still being written may have an unknown type: its name then)."""
    type_name = item.get("type")
    kind = TYPES.get(type_name) if isinstance(type_name, str) else None
    if kind is None:
        return str(item.get("name") or "")
    return str(kind.sentence(item, _Words()))
