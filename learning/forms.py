from django import forms
from django.utils.translation import gettext_lazy as _


class ThresholdForm(forms.Form):
    """How sales wants the MQL threshold set: for a share of wins, or for what it can call."""

    precision = forms.IntegerField(
        label=_("Share of MQLs that convert (%)"), min_value=1, max_value=100, required=False
    )
    per_week = forms.IntegerField(
        label=_("Leads sales can take a week"), min_value=1, max_value=100_000, required=False
    )


class ApplyForm(forms.Form):
    threshold = forms.IntegerField(label=_("MQL threshold (points)"), min_value=0, max_value=10**9)


class BacktestForm(forms.Form):
    at = forms.DateField(
        label=_("As if it were"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
