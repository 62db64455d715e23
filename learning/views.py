"""The page of what a model's outcomes say, and putting its suggestion into the draft. Thin."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from leadscoring.requests import AuthenticatedHttpRequest
from scoring.definition import DefinitionError
from scoring.models import ScoringModel

from . import selectors, services
from .forms import ApplyForm, BacktestForm, ThresholdForm
from .suggest import NotEnoughOutcomes
from .tasks import predictive_train_model

VIEW = "scoring.view_scoringmodel"
EDIT = "scoring.change_scoringmodel"


def _model(slug: str) -> ScoringModel:
    return get_object_or_404(ScoringModel.objects.select_related("published_version"), slug=slug)


@require_GET
@permission_required(VIEW, raise_exception=True)
def model_lessons(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    scoring_model = _model(slug)
    form = ThresholdForm(request.GET or None)
    wanted = form.cleaned_data if form.is_valid() else {}
    precision = wanted.get("precision")
    found = selectors.model_lessons_get(
        scoring_model,
        precision=None if precision is None else precision / 100,
        per_week=wanted.get("per_week"),
    )
    return render(
        request,
        "learning/model.html",
        {
            "model": scoring_model,
            "found": found,
            "form": form,
            "can_edit": request.user.has_perm(EDIT),
            "predictive": selectors.predictive_get(scoring_model),
        },
    )


@require_POST
@permission_required(EDIT, raise_exception=True)
def suggestion_to_draft(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    scoring_model = _model(slug)
    form = ApplyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the MQL threshold as a whole number of points, 0 or more."))
        return redirect("learning:model", slug=slug)
    try:
        suggestion = selectors.suggestion_get(scoring_model)
        services.suggestion_apply(
            scoring_model=scoring_model,
            suggestion=suggestion,
            threshold=form.cleaned_data["threshold"],
        )
    except (NotEnoughOutcomes, LookupError, DefinitionError) as exc:
        messages.error(request, _("Nothing was changed: %(why)s.") % {"why": _why_not(exc)})
        return redirect("learning:model", slug=slug)
    messages.success(
        request,
        _(
            "The suggested points are in the draft. Nothing is published: check the what-if "
            "below, then publish when it looks right."
        ),
    )
    return redirect("rules_admin:model", slug=slug)


def _why_not(exc: Exception) -> str:
    """Why the suggestion could not go into the draft, in the user's language."""
    if isinstance(exc, NotEnoughOutcomes):
        return _("%(k)s converted and %(o)s other outcomes, at least 30 of each are needed") % {
            "k": exc.converted,
            "o": exc.others,
        }
    if isinstance(exc, DefinitionError):
        return "; ".join(f"{p.path}: {p.message}" for p in exc.problems)
    return _("nothing is published yet")


@require_POST
@permission_required(EDIT, raise_exception=True)
def predictive_train(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    scoring_model = _model(slug)
    transaction.on_commit(lambda: predictive_train_model.delay(scoring_model.pk))
    messages.success(
        request,
        _(
            "Training started. Each lead's chance to convert appears here and on the lead pages "
            "when it is done, usually within minutes."
        ),
    )
    return redirect("learning:model", slug=slug)


@require_GET
@permission_required(VIEW, raise_exception=True)
def backtest(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """The draft and the live version at a past date; the partial under htmx (the editor's
    panel), a page of its own otherwise."""
    scoring_model = _model(slug)
    form = BacktestForm(request.GET or None)
    day = form.cleaned_data.get("at") if form.is_valid() else None
    today = timezone.localdate()
    if day is not None and day >= today:
        form.add_error("at", _("Pick a day in the past: the test is what happened after it."))
        day = None
    template = "learning/backtest.html"
    return render(
        request,
        f"{template}#results" if request.htmx else template,
        {
            "model": scoring_model,
            "form": form,
            "found": selectors.backtests_get(scoring_model, day),
        },
    )
