"""Forms that refuse what every other way in refuses (leadscoring.inputs), field by field."""

from typing import Any

from django import forms
from django.utils import timezone

from .inputs import value_problem


class CheckedModelForm(forms.ModelForm):
    """For the admin: a row edited by hand meets the same bounds as one sent to the API."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        now = timezone.now()
        for name, value in list(cleaned.items()):
            if problem := value_problem(value, now=now):
                self.add_error(name, problem)
        return cleaned
