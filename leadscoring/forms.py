"""Forms that refuse what every other way in refuses (leadscoring.inputs), field by field."""

from typing import Any, TypeVar

from django import forms
from django.db.models import Model
from django.utils import timezone

from .inputs import value_problem

_M = TypeVar("_M", bound=Model)


class CheckedModelForm(forms.ModelForm[_M]):
    """For the admin: a row edited by hand meets the same bounds as one sent to the API
    (`form = CheckedModelForm[Lead]`)."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # BaseModelForm.clean returns cleaned_data; the stubs allow None, as Form.clean may.
        assert cleaned is not None
        now = timezone.now()
        for name, value in list(cleaned.items()):
            if problem := value_problem(value, now=now):
                self.add_error(name, problem)
        return cleaned
