"""The dashboard and export filters: one scoring model (or all) and a bounded date range."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scoring.models import ScoringModel

DEFAULT_DAYS = 90
# Every chart aggregates over the range; a bound keeps the heaviest query predictable.
MAX_DAYS = 731


@dataclass(frozen=True)
class ReportFilters:
    scoring_model_id: int | None
    date_from: date
    date_to: date

    @property
    def start(self) -> datetime:
        """First instant of `date_from` in the project's time zone."""
        return timezone.make_aware(datetime.combine(self.date_from, time.min))

    @property
    def end(self) -> datetime:
        """First instant after `date_to` (ranges are half-open)."""
        return timezone.make_aware(datetime.combine(self.date_to + timedelta(days=1), time.min))

    def cache_key(self) -> str:
        return f"{self.scoring_model_id or 'all'}:{self.date_from}:{self.date_to}"


class ReportFilterForm(forms.Form):
    scoring_model = forms.ModelChoiceField(
        label=_("Scoring model"),
        queryset=ScoringModel.objects.order_by("name"),
        required=False,
        empty_label=_("All models"),
        to_field_name="slug",
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(
        attrs={"type": "date"}
    ))  # fmt: skip
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(
        attrs={"type": "date"}
    ))  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        today = timezone.localdate()
        date_to = data.get("date_to") or today
        date_from = data.get("date_from") or date_to - timedelta(days=DEFAULT_DAYS - 1)
        if date_from > date_to:
            raise forms.ValidationError(_("“From” must be on or before “To”."), code="order")
        if (date_to - date_from).days >= MAX_DAYS:
            raise forms.ValidationError(
                _("Choose a range of at most %(days)s days.") % {"days": MAX_DAYS}, code="span"
            )
        data["date_from"], data["date_to"] = date_from, date_to
        return data

    def filters(self) -> ReportFilters:
        """The validated filters; call only after is_valid()."""
        model = self.cleaned_data.get("scoring_model")
        return ReportFilters(
            scoring_model_id=model.pk if model else None,
            date_from=self.cleaned_data["date_from"],
            date_to=self.cleaned_data["date_to"],
        )
