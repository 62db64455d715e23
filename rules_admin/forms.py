"""Forms of the rule editor. They only translate between HTML inputs and the rules-as-code dict;
validation is scoring.definition's, and its problems come back next to the matching field."""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_lazy as _

from scoring.criteria import TYPES
from scoring.criteria.reading import OPERATORS, Field, Problem

from .describe import OPERATOR_LABELS

WHERE_ROWS = 2
BAND_ROWS = 6
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
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


if TYPE_CHECKING:
    _FormBase = forms.BaseForm
else:
    _FormBase = object  # the forms bring BaseForm themselves, after the mixin


class ProblemsMixin(_FormBase):
    """Show scoring.definition problems next to the field their path names."""

    path_fields: Mapping[str, str] = {}

    def add_problems(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            field = self.field_for(problem.path)
            self.add_error(field, problem.message)

    def field_for(self, path: str) -> str | None:
        match = re.match(r"where\[(\d+)\]\.(\w+)", path)
        if match and int(match[1]) < WHERE_ROWS:
            return f"where_{match[2]}_{int(match[1]) + 1}"
        head = re.split(r"[.\[]", path, maxsplit=1)[0]
        head = self.path_fields.get(head, head)
        return head if head in self.fields else None


def _type_field(field: Field) -> forms.Field:
    """The form field of a criterion type's input (the ones spread over several inputs, a
    condition and the property conditions, are built by the form)."""
    label, help_text = gettext_lazy(field.label), gettext_lazy(field.help) if field.help else ""
    if field.kind == "number":
        return forms.DecimalField(label=label, required=False, help_text=help_text)
    if field.kind == "whole":
        return forms.IntegerField(label=label, required=False, help_text=help_text)
    if field.kind == "choice":
        choices = [(value, gettext_lazy(text)) for value, text in field.choices]
        return forms.ChoiceField(label=label, required=False, choices=choices)
    return forms.CharField(label=label, required=False, help_text=help_text)


def type_choices() -> list[tuple[str, Any]]:
    """The criterion types by their names (read when shown, so the registry is the one list)."""
    return [(key, gettext_lazy(kind.LABEL)) for key, kind in TYPES.items()]


@dataclass(frozen=True)
class TypeRow:
    """One row of inputs in the editor and the criterion types (space-separated) that use it."""

    types: str
    fields: list[forms.BoundField]


class CriterionForm(ProblemsMixin, forms.Form):
    """A criterion: the inputs every type has, then each type's own (scoring.criteria's FIELDS);
    the page shows those of the chosen type."""

    name = forms.CharField(label=_("Name"), max_length=120)
    type = forms.ChoiceField(label=_("Type"), choices=type_choices)
    points = forms.DecimalField(label=_("Points"), help_text=_("Negative points lower the score."))
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    description = forms.CharField(
        label=_("Why it matters"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in _type_fields():
            if field.kind == "condition":
                self.fields.update(_condition_fields("", _("Field"), _("Condition")))
                self.fields["field"].help_text = _("For example account.employee_count.")
                self.fields["value"].help_text = _(
                    "Several values separated by commas; a range as low, high."
                )
            elif field.kind == "conditions":
                for i in range(1, WHERE_ROWS + 1):
                    self.fields.update(_condition_fields(f"_{i}", gettext_lazy(field.label)))
            else:
                self.fields[field.key] = _type_field(field)

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

    def type_rows(self) -> list[TypeRow]:
        """The types' rows of inputs, each once, in the order the types list them."""
        rows: dict[tuple[Field, ...], list[str]] = {}
        for key, kind in TYPES.items():
            for row in kind.FIELDS:
                rows.setdefault(row, []).append(key)
        shown = []
        for row, types in rows.items():
            for names in self._row_names(row):
                shown.append(TypeRow(" ".join(types), [self[name] for name in names]))
        return shown

    @staticmethod
    def _row_names(row: tuple[Field, ...]) -> list[list[str]]:
        if row[0].kind == "condition":
            return [["field", "op", "value"]]
        if row[0].kind == "conditions":
            return [[f"where_{part}_{i}" for part in ("field", "op", "value")]
                    for i in range(1, WHERE_ROWS + 1)]  # fmt: skip
        return [[field.key for field in row]]

    def type_labels(self) -> list[tuple[str, Any]]:
        return type_choices()

    def definition(self) -> dict[str, Any]:
        """The rules-as-code dict of the cleaned data (keys of the chosen type only)."""
        data = self.cleaned_data
        item: dict[str, Any] = {"name": data["name"].strip(), "type": data["type"]}
        if data.get("description"):
            item["description"] = data["description"]
        for row in TYPES[data["type"]].FIELDS:
            for field in row:
                item.update(self._value(field))
        item["points"] = _number(data["points"])
        if not data.get("enabled"):
            item["enabled"] = False
        return {k: v for k, v in item.items() if v is not None or k in ("field", "op")}

    def _value(self, field: Field) -> dict[str, Any]:
        """A type's input as rules-as-code keys."""
        data = self.cleaned_data
        if field.kind == "condition":
            return _condition(data, "")
        if field.kind == "conditions":
            where = [_condition(data, f"_{i}") for i in range(1, WHERE_ROWS + 1)]
            where = [condition for condition in where if condition]
            return {"where": where} if where else {}
        if field.kind == "kinds":
            kinds = [k.strip() for k in data.get(field.key, "").split(",") if k.strip()]
            return {field.key: kinds} if kinds else {}
        if field.kind == "number":
            return {field.key: _number(data.get(field.key))}
        if field.kind == "choice":
            return {field.key: data.get(field.key) or field.default}
        return {field.key: data.get(field.key)}


def _type_fields() -> list[Field]:
    """Every input of every type, each once."""
    return list({field: None for kind in TYPES.values() for row in kind.FIELDS for field in row})


def _condition_fields(suffix: str, label: Any, op_label: Any = None) -> dict[str, forms.Field]:
    """A condition's three inputs: field, op and value (suffix _1 … for property conditions,
    whose field is called where_field_1 and so on)."""
    prefix = "where_" if suffix else ""
    return {
        f"{prefix}field{suffix}": forms.CharField(label=label, required=False),
        f"{prefix}op{suffix}": forms.ChoiceField(
            label=op_label or _("Condition"), choices=_OP_CHOICES, required=False
        ),
        f"{prefix}value{suffix}": forms.CharField(label=_("Value"), required=False),
    }


def _condition(data: Mapping[str, Any], suffix: str) -> dict[str, Any]:
    """The condition typed in `field{suffix}`, `op{suffix}`, `value{suffix}`: an attribute's
    (flat, kept even when empty so the validator names what is missing) or a property's."""
    prefix = "where_" if suffix else ""
    field = data.get(f"{prefix}field{suffix}", "").strip()
    op = data.get(f"{prefix}op{suffix}") or None
    if suffix and not field and not op:
        return {}
    condition: dict[str, Any] = {"field": field or None, "op": op}
    value = parse_value(op or "", data.get(f"{prefix}value{suffix}", ""))
    if value is not None:
        condition["value"] = value
    return condition


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
    def initial_from(
        cls,
        mql_threshold: Decimal,
        bands: Sequence[Mapping[str, Any]],
        grades: Sequence[Mapping[str, Any]],
    ) -> dict[str, Any]:
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
        target = self.fields["target"]
        assert isinstance(target, forms.ChoiceField)  # declared above
        target.choices = [("", "—")] + [(n, n) for n in criterion_names]
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
