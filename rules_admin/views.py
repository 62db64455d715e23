"""Pages of the rule editor. Thin: check the permission, read a form, call a service or selector.

Under HTMX a view answers with the partial it changed (and fires `draft-changed`, which refreshes
the what-if panel); without JavaScript every form posts normally and redirects back.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadscoring.requests import AuthenticatedHttpRequest
from scoring.definition import DefinitionError
from scoring.models import Criterion, RescoreRun, ScoringModel

from . import selectors, services
from .forms import (
    CommentForm,
    CriterionForm,
    DeclineForm,
    ProposalForm,
    PublishForm,
    ThresholdsForm,
)
from .models import Proposal
from .whatif import whatif_compute

VIEW = "scoring.view_scoringmodel"
EDIT = "scoring.change_scoringmodel"
PUBLISH = "scoring.publish_scoringmodel"
PROPOSE = "scoring.propose_scoringmodel"
DRAFT_CHANGED = "draft-changed"


def permission(perm: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """403 unless the user holds `perm` (the role check happens here, on the server)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def _abilities(request: AuthenticatedHttpRequest) -> dict[str, bool]:
    user = request.user
    return {
        "can_edit": user.has_perm(EDIT),
        "can_publish": user.has_perm(PUBLISH),
        "can_propose": user.has_perm(PROPOSE),
    }


def _model(slug: str) -> ScoringModel:
    return get_object_or_404(ScoringModel.objects.select_related("published_version"), slug=slug)


def _criterion(scoring_model: ScoringModel, pk: int) -> Criterion:
    return get_object_or_404(Criterion, scoring_model=scoring_model, pk=pk)


@require_GET
@permission(VIEW)
def models_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "rules_admin/models_list.html", {"models": selectors.models_list()})


def _criteria_context(
    request: AuthenticatedHttpRequest, scoring_model: ScoringModel
) -> dict[str, Any]:
    return {
        "model": scoring_model,
        "groups": selectors.criteria_grouped(scoring_model=scoring_model),
        **_abilities(request),
    }


@require_GET
@permission(VIEW)
def model_detail(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    scoring_model = _model(slug)
    context = _criteria_context(request, scoring_model)
    context.update(
        thresholds_form=ThresholdsForm(
            initial=ThresholdsForm.initial_from(
                scoring_model.mql_threshold, scoring_model.bands, scoring_model.grades
            )
        ),
        publish_form=PublishForm(),
        run=selectors.latest_run(scoring_model=scoring_model),
    )
    return render(request, "rules_admin/model_detail.html", context)


def _criteria_changed(
    request: AuthenticatedHttpRequest, scoring_model: ScoringModel
) -> HttpResponse:
    if not request.htmx:
        return redirect("rules_admin:model", slug=scoring_model.slug)
    response = render(
        request,
        "rules_admin/model_detail.html#criteria",
        {**_criteria_context(request, scoring_model), "clear_editor": True},
    )
    response.headers["HX-Retarget"] = "#criteria"
    response.headers["HX-Reswap"] = "outerHTML"
    response.headers["HX-Trigger"] = DRAFT_CHANGED
    return response


@require_http_methods(["GET", "POST"])
@permission(EDIT)
def criterion_form(
    request: AuthenticatedHttpRequest, slug: str, pk: int | None = None
) -> HttpResponse:
    scoring_model = _model(slug)
    criterion = _criterion(scoring_model, pk) if pk is not None else None
    if request.method == "POST":
        form = CriterionForm(request.POST)
        if form.is_valid():
            try:
                services.criterion_save(
                    scoring_model=scoring_model, data=form.definition(), criterion=criterion
                )
            except DefinitionError as exc:
                form.add_problems(exc.problems)
            else:
                return _criteria_changed(request, scoring_model)
    elif criterion is not None:
        initial = CriterionForm.initial_from(selectors.criterion_definition(criterion))
        initial.update(description=criterion.description, enabled=criterion.enabled)
        form = CriterionForm(initial=initial)
    else:
        # A new criterion may come prefilled (from the outcomes page's candidates).
        wanted: dict[str, Any] = {"type": request.GET.get("type", "attribute")}
        if request.GET.get("kinds"):
            wanted.update(kinds=request.GET.getlist("kinds"), name=request.GET.get("name", ""))
        elif request.GET.get("field"):
            wanted.update(
                field=request.GET["field"], op=request.GET.get("op", "equals"),
                value=request.GET.get("value", ""), name=request.GET.get("name", ""),
            )  # fmt: skip
        form = CriterionForm(initial=CriterionForm.initial_from(wanted))
    template = "rules_admin/criterion_form.html"
    return render(
        request,
        f"{template}#form" if request.htmx else template,
        {
            "model": scoring_model,
            "criterion": criterion,
            "form": form,
            "suggest": selectors.suggestions(),
        },
    )


_ACTIONS: dict[str, Callable[[Criterion], Any]] = {
    "delete": lambda c: services.criterion_delete(criterion=c),
    "duplicate": lambda c: services.criterion_duplicate(criterion=c),
    "toggle": lambda c: services.criterion_toggle(criterion=c),
    "up": lambda c: services.criterion_move(criterion=c, offset=-1),
    "down": lambda c: services.criterion_move(criterion=c, offset=1),
}


@require_POST
@permission(EDIT)
def criterion_action(
    request: AuthenticatedHttpRequest, slug: str, pk: int, action: str
) -> HttpResponse:
    if action not in _ACTIONS:
        raise Http404
    scoring_model = _model(slug)
    _ACTIONS[action](_criterion(scoring_model, pk))
    return _criteria_changed(request, scoring_model)


@require_POST
@permission(EDIT)
def thresholds(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    scoring_model = _model(slug)
    form = ThresholdsForm(request.POST)
    saved = False
    if form.is_valid():
        try:
            services.thresholds_update(
                scoring_model=scoring_model,
                mql_threshold=form.cleaned_data["mql_threshold"],
                bands=form.ranges("band"),
                grades=form.ranges("grade"),
            )
            saved = True
        except DefinitionError as exc:
            form.add_problems(exc.problems)
    if not request.htmx:
        if saved:
            messages.success(request, _("Thresholds saved in the draft."))
        else:
            messages.error(request, _("The thresholds were not saved: %s") % form.errors.as_text())
        return redirect("rules_admin:model", slug=slug)
    response = render(
        request,
        "rules_admin/model_detail.html#thresholds",
        {"model": scoring_model, "thresholds_form": form, "saved": saved, **_abilities(request)},
    )
    if saved:
        response.headers["HX-Trigger"] = DRAFT_CHANGED
    return response


@require_GET
@permission(VIEW)
def whatif(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    scoring_model = _model(slug)
    result = whatif_compute(scoring_model=scoring_model)
    return render(request, "rules_admin/whatif.html", {"model": scoring_model, "whatif": result})


@require_POST
@permission(PUBLISH)
def publish(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    scoring_model = _model(slug)
    form = PublishForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Write a change note before publishing."))
        return redirect("rules_admin:model", slug=slug)
    try:
        version = services.draft_publish(
            scoring_model=scoring_model, user=request.user, note=form.cleaned_data["note"]
        )
    except DefinitionError as exc:
        messages.error(request, _("The draft has problems: %s") % exc)
        return redirect("rules_admin:model", slug=slug)
    messages.success(
        request,
        _("Version %(number)s is live; every lead is rescored.") % {"number": version.number},
    )
    return redirect(reverse("rules_admin:model", kwargs={"slug": slug}) + "#progress")


@require_GET
@permission(VIEW)
def run_progress(request: AuthenticatedHttpRequest, slug: str, pk: int) -> HttpResponse:
    run = get_object_or_404(
        RescoreRun.objects.select_related("version"), scoring_model__slug=slug, pk=pk
    )
    return render(
        request, "rules_admin/model_detail.html#progress", {"run": run, "model": run.scoring_model}
    )


@require_GET
@permission(VIEW)
def history(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    scoring_model = _model(slug)
    versions = list(selectors.versions_list(scoring_model=scoring_model))
    by_number = {str(v.number): v for v in versions}
    old = by_number.get(request.GET.get("from", ""))
    new = by_number.get(request.GET.get("to", ""))
    if old is None and new is None and len(versions) >= 2:
        new, old = versions[0], versions[1]
    diff = selectors.definitions_diff(old.definition, new.definition) if old and new else None
    return render(
        request,
        "rules_admin/history.html",
        {
            "model": scoring_model,
            "versions": versions,
            "old": old,
            "new": new,
            "diff": diff,
            **_abilities(request),
        },
    )


@require_POST
@permission(EDIT)
def restore(request: AuthenticatedHttpRequest, slug: str, number: int) -> HttpResponse:
    scoring_model = _model(slug)
    version = get_object_or_404(scoring_model.versions, number=number)
    services.draft_restore(version=version)
    messages.success(
        request,
        _("Version %(number)s is the draft again; publish it to make it live.")
        % {"number": number},
    )
    return redirect("rules_admin:model", slug=slug)


def _proposal_form(scoring_model: ScoringModel, data: Any = None) -> ProposalForm:
    names = scoring_model.criteria.values_list("name", flat=True)
    return ProposalForm(data, criterion_names=list(names), initial={"type": "attribute"})


@require_http_methods(["GET", "POST"])
@permission(VIEW)
def proposals(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    scoring_model = _model(slug)
    form = _proposal_form(scoring_model)
    if request.method == "POST":
        if not request.user.has_perm(PROPOSE):
            raise PermissionDenied
        form = _proposal_form(scoring_model, request.POST)
        if form.is_valid():
            try:
                proposal = services.proposal_create(
                    scoring_model=scoring_model,
                    author=request.user,
                    reason=form.cleaned_data["reason"],
                    edits=[form.edit()],
                )
            except DefinitionError as exc:
                form.add_problems(exc.problems)
            else:
                messages.success(request, _("Your proposal was sent to marketing."))
                return redirect("rules_admin:proposal", slug=slug, pk=proposal.pk)
    all_proposals = list(selectors.proposals_for(scoring_model=scoring_model))
    return render(
        request,
        "rules_admin/proposals.html",
        {
            "model": scoring_model,
            "open": [p for p in all_proposals if p.status == Proposal.Status.OPEN],
            "decided": [p for p in all_proposals if p.status != Proposal.Status.OPEN],
            "rejections": selectors.rejections_by_reason(scoring_model=scoring_model),
            "form": form,
            "suggest": selectors.suggestions(),
            **_abilities(request),
        },
    )


def _proposal(slug: str, pk: int) -> Proposal:
    return get_object_or_404(
        Proposal.objects.select_related("scoring_model", "author", "decided_by"),
        scoring_model__slug=slug,
        pk=pk,
    )


@require_http_methods(["GET", "POST"])
@permission(VIEW)
def proposal_detail(request: AuthenticatedHttpRequest, slug: str, pk: int) -> HttpResponse:
    proposal = _proposal(slug, pk)
    form = CommentForm()
    if request.method == "POST":
        if not (request.user.has_perm(PROPOSE) or request.user.has_perm(EDIT)):
            raise PermissionDenied
        form = CommentForm(request.POST)
        if form.is_valid():
            services.proposal_comment_add(
                proposal=proposal, author=request.user, text=form.cleaned_data["text"]
            )
            if request.htmx:
                form = CommentForm()
            else:
                return redirect("rules_admin:proposal", slug=slug, pk=pk)
    context = {
        "model": proposal.scoring_model,
        "proposal": proposal,
        "comments": proposal.comments.select_related("author"),
        "comment_form": form,
        "decline_form": DeclineForm(),
        "rejections": selectors.rejections_by_reason(scoring_model=proposal.scoring_model),
        **_abilities(request),
    }
    template = "rules_admin/proposal_detail.html"
    return render(request, f"{template}#thread" if request.htmx else template, context)


@require_POST
@permission(EDIT)
def proposal_apply(request: AuthenticatedHttpRequest, slug: str, pk: int) -> HttpResponse:
    proposal = _proposal(slug, pk)
    try:
        services.proposal_apply(proposal=proposal, user=request.user)
    except DefinitionError as exc:
        messages.error(request, _("The proposal cannot be applied: %s") % exc)
        return redirect("rules_admin:proposal", slug=slug, pk=pk)
    messages.success(request, _("The proposal is in the draft; check the what-if, then publish."))
    return redirect("rules_admin:model", slug=slug)


@require_POST
@permission(EDIT)
def proposal_decline(request: AuthenticatedHttpRequest, slug: str, pk: int) -> HttpResponse:
    proposal = _proposal(slug, pk)
    form = DeclineForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        services.proposal_decline(proposal=proposal, user=request.user, note=note)
    except DefinitionError as exc:
        messages.error(request, str(exc))
    return redirect("rules_admin:proposal", slug=slug, pk=pk)
