"""Forms of the rule editor. They only translate between HTML inputs and the rules-as-code dict;
validation is scoring.definition's, and its problems come back next to the matching field."""

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from scoring.definition import COUNT_MODES, OPERATORS, Problem
from scoring.models import CriterionType

from .describe import OPERATOR_LABELS

WHERE_ROWS = 2
BAND_ROWS = 6
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_COUNT_LABELS = {
    "each": _("every time"),
    "once": _("once"),
    "per_day": _("once per day"),
}
_OP_CHOICES = [("", "—")] + [(op, OPERATOR_LABELS[op]) for op in OPERATORS]


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def parse_value(op: str, text: str) -> Any:
    """The condition value typed in a text box: lists comma-separated, true/false and numbers
    read as such; None when empty (the validator says whether the operator needs one)."""
    if op in ("is_set", "is_not_set") or not text.strip():
        return None
    if op in ("in", "not_in", "between"):
        return [_scalar(part) for part in text.split(",") if part.strip()]
    return _scalar(text)


def value_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _optional_decimal(label: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(label=label, required=False, help_text=help_text)


class ProblemsMixin:
    """Show scoring.definition problems next to the field their path names."""

    path_fields: Mapping[str, str] = {}

    def add_problems(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            field = self.field_for(problem.path)
            self.add_error(field, problem.message)  # type: ignore[attr-defined]

    def field_for(self, path: str) -> str | None:
        match = re.match(r"where\[(\d+)\]\.(\w+)", path)
        if match and int(match[1]) < WHERE_ROWS:
            return f"where_{match[2]}_{int(match[1]) + 1}"
        head = re.split(r"[.\[]", path, maxsplit=1)[0]
        head = self.path_fields.get(head, head)
        return head if head in self.fields else None  # type: ignore[attr-defined]


class CriterionForm(ProblemsMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    type = forms.ChoiceField(label=_("Type"), choices=CriterionType.choices)
    points = forms.DecimalField(label=_("Points"), help_text=_("Negative points lower the score."))
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    description = forms.CharField(
        label=_("Why it matters"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    # attribute
    field = forms.CharField(
        label=_("Field"), required=False, help_text=_("For example account.employee_count.")
    )
    op = forms.ChoiceField(label=_("Condition"), choices=_OP_CHOICES, required=False)
    value = forms.CharField(
        label=_("Value"),
        required=False,
        help_text=_("Several values separated by commas; a range as low, high."),
    )
    # activity, frequency, inactivity
    kinds = forms.CharField(
        label=_("Activity kinds"),
        required=False,
        help_text=_("Separated by commas; empty means any activity."),
    )
    count = forms.ChoiceField(
        label=_("Count"),
        required=False,
        choices=[(mode, _COUNT_LABELS[mode]) for mode in COUNT_MODES],
    )
    cap = _optional_decimal(_("At most (points)"))
    window_days = _optional_decimal(_("Only the last (days)"))
    half_life_days = _optional_decimal(_("Worth half after (days)"))
    at_least = forms.IntegerField(label=_("At least (activities)"), required=False)
    within_days = _optional_decimal(_("Within (days)"))
    days = _optional_decimal(_("No activity for (days)"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i in range(1, WHERE_ROWS + 1):
            self.fields[f"where_field_{i}"] = forms.CharField(
                label=_("Only where property"), required=False
            )
            self.fields[f"where_op_{i}"] = forms.ChoiceField(
                label=_("Condition"), choices=_OP_CHOICES, required=False
            )
            self.fields[f"where_value_{i}"] = forms.CharField(label=_("Value"), required=False)

    @classmethod
    def initial_from(cls, item: Mapping[str, Any]) -> dict[str, Any]:
        initial = {k: v for k, v in item.items() if k not in ("where", "kinds", "value")}
        initial["value"] = value_text(item.get("value"))
        initial["kinds"] = ", ".join(item.get("kinds") or ())
        initial.setdefault("enabled", True)
        for i, condition in enumerate(item.get("where") or (), start=1):
            initial[f"where_field_{i}"] = condition.get("field", "")
            initial[f"where_op_{i}"] = condition.get("op", "")
            initial[f"where_value_{i}"] = value_text(condition.get("value"))
        return initial

    def where_rows(self) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]:
        return [
            (self[f"where_field_{i}"], self[f"where_op_{i}"], self[f"where_value_{i}"])
            for i in range(1, WHERE_ROWS + 1)
        ]

    def definition(self) -> dict[str, Any]:
        """The rules-as-code dict of the cleaned data (keys of the chosen type only)."""
        data = self.cleaned_data
        kind = data["type"]
        item: dict[str, Any] = {"name": data["name"].strip(), "type": kind}
        if data.get("description"):
            item["description"] = data["description"]
        if kind == "attribute":
            op = data.get("op") or None
            item.update(field=data.get("field", "").strip() or None, op=op)
            value = parse_value(op or "", data.get("value", ""))
            if value is not None:
                item["value"] = value
        else:
            kinds = [k.strip() for k in data.get("kinds", "").split(",") if k.strip()]
            if kinds:
                item["kinds"] = kinds
        if kind in ("activity", "frequency"):
            where = []
            for i in range(1, WHERE_ROWS + 1):
                field, op = data.get(f"where_field_{i}", "").strip(), data.get(f"where_op_{i}")
                if not field and not op:
                    continue
                condition = {"field": field or None, "op": op or None}
                value = parse_value(op or "", data.get(f"where_value_{i}", ""))
                if value is not None:
                    condition["value"] = value
                where.append(condition)
            if where:
                item["where"] = where
            item["window_days"] = _number(data.get("window_days"))
        if kind == "activity":
            item["count"] = data.get("count") or "each"
            item["cap"] = _number(data.get("cap"))
            item["half_life_days"] = _number(data.get("half_life_days"))
        elif kind == "frequency":
            item["at_least"] = data.get("at_least")
            item["within_days"] = _number(data.get("within_days"))
        elif kind == "inactivity":
            item["days"] = _number(data.get("days"))
        item["points"] = _number(data["points"])
        if not data.get("enabled"):
            item["enabled"] = False
        return {k: v for k, v in item.items() if v is not None or k in ("field", "op")}


class ThresholdsForm(ProblemsMixin, forms.Form):
    mql_threshold = forms.DecimalField(
        label=_("MQL threshold"),
        help_text=_("A lead with at least this score is handed to sales."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for prefix in ("band", "grade"):
            for i in range(1, BAND_ROWS + 1):
                self.fields[f"{prefix}_label_{i}"] = forms.CharField(
                    label=_("Label"), required=False, max_length=40
                )
                self.fields[f"{prefix}_min_{i}"] = forms.DecimalField(
                    label=_("From (points)"), required=False
                )

    @classmethod
    def initial_from(cls, mql_threshold: Decimal, bands: list, grades: list) -> dict[str, Any]:
        initial: dict[str, Any] = {"mql_threshold": mql_threshold}
        for prefix, rows in (("band", bands), ("grade", grades)):
            for i, row in enumerate(rows[:BAND_ROWS], start=1):
                initial[f"{prefix}_label_{i}"] = row["label"]
                initial[f"{prefix}_min_{i}"] = row["min"]
        return initial

    def rows(self, prefix: str) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [
            (self[f"{prefix}_label_{i}"], self[f"{prefix}_min_{i}"])
            for i in range(1, BAND_ROWS + 1)
        ]

    def band_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return self.rows("band")

    def grade_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return self.rows("grade")

    def ranges(self, prefix: str) -> list[dict[str, Any]]:
        rows = []
        for i in range(1, BAND_ROWS + 1):
            label = self.cleaned_data.get(f"{prefix}_label_{i}", "").strip()
            low = self.cleaned_data.get(f"{prefix}_min_{i}")
            if label or low is not None:
                rows.append({"label": label or None, "min": _number(low)})
        return rows

    def field_for(self, path: str) -> str | None:
        match = re.match(r"(bands|grades)\[(\d+)\]\.(label|min)", path)
        if match:
            return f"{match[1][:-1]}_{match[3]}_{int(match[2]) + 1}"
        if path in ("bands", "grades"):
            return f"{path[:-1]}_label_1"
        return super().field_for(path)


class PublishForm(forms.Form):
    note = forms.CharField(
        label=_("What changed and why"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown in the history next to your name."),
    )


class ProposalForm(CriterionForm):
    ACTIONS = [
        ("change", _("Change a criterion")),
        ("add", _("Add a criterion")),
        ("remove", _("Remove a criterion")),
    ]
    action = forms.ChoiceField(label=_("I propose to"), choices=ACTIONS)
    target = forms.ChoiceField(label=_("Criterion"), required=False)
    reason = forms.CharField(
        label=_("Why"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What you see in your conversations with these leads."),
    )
    field_order = ["action", "target", "reason"]

    def __init__(self, *args: Any, criterion_names: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = [("", "—")] + [(n, n) for n in criterion_names]
        for name in ("name", "type", "points"):
            self.fields[name].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        action = data.get("action")
        if action in ("change", "remove") and not data.get("target"):
            self.add_error("target", _("Choose the criterion."))
        if action != "remove":
            for name in ("name", "type", "points"):
                if data.get(name) in (None, ""):
                    self.add_error(name, _("This field is required."))
        return data

    def edit(self) -> dict[str, Any]:
        action = self.cleaned_data["action"]
        if action == "remove":
            return {"action": action, "name": self.cleaned_data["target"]}
        edit: dict[str, Any] = {"action": action, "criterion": self.definition()}
        edit["name"] = (
            self.cleaned_data["target"] if action == "change" else edit["criterion"]["name"]
        )
        return edit


class CommentForm(forms.Form):
    text = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2}))


class DeclineForm(forms.Form):
    note = forms.CharField(
        label=_("Why not"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
