"""Forms of the queue (its filters and the inputs of the row actions) and of the leads list."""

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from scoring.models import HandoffStatus, LifecycleStage, RejectionReason

from .selectors import LeadsQuery

if TYPE_CHECKING:
    from .selectors import QueueOptions

FILTER_FIELDS = ("model", "owner", "band", "source", "sla", "status")
STATUS_CHOICES = [
    ("open", _("Open (new, accepted, qualified)")),
    *HandoffStatus.choices,
    ("all", _("All")),
]
SLA_CHOICES = [
    ("", _("Any")),
    ("overdue", _("Overdue")),
    ("due_soon", _("Due soon")),
    ("on_track", _("On track")),
    ("met", _("Responded")),
]


def _choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """The form's field `name`, declared as a choice field, to fill its choices in."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


class QueueFilterForm(forms.Form):
    """The queue's filters; anything unknown or malformed is ignored (shown as "any")."""

    model = forms.ChoiceField(label=_("Model"), required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    band = forms.ChoiceField(label=_("Band"), required=False)
    source = forms.ChoiceField(label=_("Source"), required=False)
    sla = forms.ChoiceField(label=_("Follow-up"), required=False, choices=SLA_CHOICES)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=STATUS_CHOICES)

    def __init__(self, data: Mapping[str, object] | None, *, options: "QueueOptions") -> None:
        super().__init__(data)
        _choice_field(self, "model").choices = [
            ("", _("Any")),
            *((m.slug, m.name) for m in options.models),
        ]
        _choice_field(self, "owner").choices = [
            ("", _("Anyone")),
            ("me", _("Me")),
            ("none", _("Nobody yet")),
            *((str(u.pk), u.get_full_name() or u.get_username()) for u in options.owners),
        ]
        _choice_field(self, "band").choices = [("", _("Any")), *((b, b) for b in options.bands)]
        _choice_field(self, "source").choices = [("", _("Any")), *((s, s) for s in options.sources)]

    def values(self) -> dict[str, str]:
        """The valid filters; an invalid one falls back to its default instead of failing."""
        self.is_valid()
        clean = getattr(self, "cleaned_data", {})
        values = {name: clean.get(name) or "" for name in FILTER_FIELDS}
        values["status"] = values["status"] or "open"
        return values


class RejectForm(forms.Form):
    reason = forms.ModelChoiceField(
        label=_("Reason"),
        queryset=RejectionReason.objects.filter(active=True),
        to_field_name="code",
        empty_label=_("Choose a reason"),
    )
    note = forms.CharField(label=_("Note for marketing"), required=False, max_length=2000)


class QualifyForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


class OutcomeForm(forms.Form):
    result = forms.ChoiceField(
        label=_("Result"),
        choices=[("won", _("Won")), ("lost", _("Lost"))],
        widget=forms.RadioSelect,
    )
    value = forms.DecimalField(
        label=_("Deal value (€)"),
        required=False,
        min_value=Decimal(0),
        max_digits=16,
        decimal_places=2,
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


class ReassignForm(forms.Form):
    owner = forms.TypedChoiceField(label=_("Give to"), coerce=int)

    def __init__(self, data: Mapping[str, object] | None, *, team: Iterable[User]) -> None:
        super().__init__(data)
        _choice_field(self, "owner").choices = [
            (u.pk, u.get_full_name() or u.get_username()) for u in team
        ]


class SaveFilterForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)


SORT_CHOICES = [("score", _("Highest score")), ("name", _("Name")), ("newest", _("Newest"))]


class LeadSearchForm(forms.Form):
    """The leads list's search and filters; anything unknown is ignored (shown as "any")."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    model = forms.ChoiceField(label=_("Model"), required=False)
    band = forms.ChoiceField(label=_("Band"), required=False)
    stage = forms.ChoiceField(label=_("Stage"), required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=SORT_CHOICES)

    def __init__(self, data: Mapping[str, object] | None, *, options: "QueueOptions") -> None:
        super().__init__(data)
        self.models = {m.slug: m for m in options.models}
        _choice_field(self, "model").choices = [
            *((m.slug, m.name) for m in options.models),
            ("all", _("All leads, without scores")),
        ]
        _choice_field(self, "band").choices = [("", _("Any")), *((b, b) for b in options.bands)]
        _choice_field(self, "stage").choices = [("", _("Any")), *LifecycleStage.choices]
        _choice_field(self, "owner").choices = [
            ("", _("Anyone")),
            ("me", _("Me")),
            ("none", _("Nobody yet")),
            *((str(u.pk), u.get_full_name() or u.get_username()) for u in options.owners),
        ]

    def query(self) -> LeadsQuery:
        """The valid search; an invalid field falls back to its default instead of failing."""
        self.is_valid()
        clean = getattr(self, "cleaned_data", {})
        wanted = clean.get("model") or next(iter(self.models), "all")
        model = self.models.get(wanted)
        return LeadsQuery(
            text=(clean.get("q") or "").strip(),
            model=model,
            band=(clean.get("band") or "") if model else "",
            stage=clean.get("stage") or "",
            owner=clean.get("owner") or "",
            sort=clean.get("sort") or ("score" if model else "name"),
        )
