"""The sales queue and the lead page. Thin: forms validate, services act, selectors read.

With HTMX a filter change swaps only the table and an action swaps only its row; without
JavaScript the same forms post normally and redirect back to the queue.
"""

import json
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadscoring.requests import AuthenticatedHttpRequest
from scoring import privacy
from scoring.models import Handoff, Lead

from . import selectors, services
from .forms import (
    FILTER_FIELDS,
    LeadSearchForm,
    OutcomeForm,
    QualifyForm,
    QueueFilterForm,
    ReassignForm,
    RejectForm,
    SaveFilterForm,
)
from .handoffs import (
    HandoffError,
    handoff_accept,
    handoff_qualify,
    handoff_record_outcome,
    handoff_reject,
)
from .lead_profile import lead_page_get

VIEW = "scoring.view_handoff"


def _queue_context(request: AuthenticatedHttpRequest) -> dict[str, object]:
    options = selectors.queue_options()
    form = QueueFilterForm(request.GET, options=options)
    values = form.values()
    now = timezone.now()
    page = selectors.queue_page(
        values=values, user=request.user, now=now, page=request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "form": form,
        "values": values,
        "options": options,
        "page": page,
        "count_limit": selectors.COUNT_LIMIT,
        "query": query.urlencode(),
        "saved_filters": selectors.saved_filters(user=request.user),
        "can_work": services.can_work_handoffs(request.user),
        "now": now,
        "save_form": SaveFilterForm(),
    }


@require_GET
@permission_required(VIEW, raise_exception=True)
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = _queue_context(request)
    if request.htmx and request.htmx.target == "queue-table":
        return render(request, "pipeline/queue.html#queue-table", context)
    return render(request, "pipeline/queue.html", context)


@require_GET
@permission_required("scoring.view_lead", raise_exception=True)
def leads(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = LeadSearchForm(request.GET, options=selectors.queue_options())
    query = form.query()
    context = {
        "form": form,
        "query": query,
        "page": selectors.leads_page(query, user=request.user, page=request.GET.get("page")),
        "querystring": urlencode({k: v for k, v in request.GET.items() if k != "page" and v}),
    }
    if request.htmx and request.htmx.target == "leads-table":
        return render(request, "pipeline/leads.html#leads-table", context)
    return render(request, "pipeline/leads.html", context)


def _safe_next(request: HttpRequest, target: str) -> str:
    """Where to go back to: the given page of this site, else the queue."""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return reverse("pipeline:queue")
    return target


def _back_to_queue(request: HttpRequest) -> HttpResponseRedirect:
    return redirect(_safe_next(request, request.POST.get("next", "")))


def _first_error(form: forms.BaseForm) -> str:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return _("Please check the form.")


def _perform(request: AuthenticatedHttpRequest, handoff_id: int, action: str) -> str:
    """Run one row action; returns the message to show (raises HandoffError on refusal)."""
    user = request.user
    form: forms.Form
    if action == "claim":
        services.handoff_claim(handoff_id=handoff_id, user=user)
        return _("You now own this handoff.")
    if action == "reassign":
        form = ReassignForm(request.POST, team=services.sales_team())
        if not form.is_valid():
            raise HandoffError(_first_error(form))
        services.handoff_reassign(
            handoff_id=handoff_id, user=user, owner_id=form.cleaned_data["owner"]
        )
        return _("Handoff reassigned.")
    if action == "accept":
        handoff_accept(handoff_id=handoff_id, user=user)
        return _("Accepted: the lead is now sales accepted (SAL).")
    if action == "reject":
        form = RejectForm(request.POST)
        if not form.is_valid():
            raise HandoffError(_first_error(form))
        handoff_reject(
            handoff_id=handoff_id,
            user=user,
            reason_code=form.cleaned_data["reason"].code,
            note=form.cleaned_data["note"],
        )
        return _("Rejected: the lead went back to marketing for nurturing.")
    if action == "qualify":
        form = QualifyForm(request.POST)
        if not form.is_valid():
            raise HandoffError(_first_error(form))
        handoff_qualify(handoff_id=handoff_id, user=user, note=form.cleaned_data["note"])
        return _("Qualified: the lead is now sales qualified (SQL).")
    if action == "outcome":
        form = OutcomeForm(request.POST)
        if not form.is_valid():
            raise HandoffError(_first_error(form))
        data = form.cleaned_data
        handoff_record_outcome(
            handoff_id=handoff_id,
            user=user,
            won=data["result"] == "won",
            value=data["value"],
            note=data["note"],
        )
        return _("Outcome recorded.")
    raise HandoffError(_("Unknown action."))


# Actions that need more than a click open their form in the row first (`?form=`), so the queue
# page carries one link per action instead of every row's forms.
FORM_ACTIONS = ("reject", "outcome", "reassign")


def _row_context(
    request: AuthenticatedHttpRequest, handoff_id: int, *, next_url: str, **extra: object
) -> dict[str, object]:
    now = timezone.now()
    context: dict[str, object] = {
        "h": selectors.queue_row(handoff_id=handoff_id, now=now),
        "can_work": services.can_work_handoffs(request.user),
        "next": _safe_next(request, next_url),
        "now": now,
        "open_form": "",
        **extra,
    }
    if context["open_form"] == "reject":
        context["reasons"] = selectors.rejection_reasons()
    elif context["open_form"] == "reassign":
        context["owners"] = list(services.sales_team())
    return context


def _row(request: AuthenticatedHttpRequest, context: dict[str, object]) -> HttpResponse:
    if request.htmx:
        return render(request, "pipeline/queue.html#queue-row", context)
    return render(request, "pipeline/handoff.html", context)


def _act(request: AuthenticatedHttpRequest, handoff_id: int) -> HttpResponse:
    action = request.POST.get("action", "")
    error, done = "", ""
    try:
        done = _perform(request, handoff_id, action)
    except HandoffError as exc:
        error = str(exc)
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, done)
        return _back_to_queue(request)
    # A refused form stays open, so the user corrects it instead of starting over.
    reopen = action if error and action in FORM_ACTIONS else ""
    context = _row_context(
        request,
        handoff_id,
        next_url=request.POST.get("next", ""),
        row_error=error,
        row_done=done,
        open_form=reopen,
    )
    return _row(request, context)


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, raise_exception=True)
def handoff(request: AuthenticatedHttpRequest, handoff_id: int) -> HttpResponse:
    """One handoff's queue row: GET shows it, with `?form=` one action's form open; POST
    performs the `action` it names."""
    if not Handoff.objects.filter(pk=handoff_id).exists():
        return HttpResponse(_("This handoff no longer exists."), status=404)
    open_form = request.GET.get("form", "")
    if (request.method == "POST" or open_form) and not services.can_work_handoffs(request.user):
        raise PermissionDenied
    if request.method == "POST":
        return _act(request, handoff_id)
    if open_form and open_form not in FORM_ACTIONS:
        return HttpResponse(_("Unknown action."), status=404)
    context = _row_context(
        request, handoff_id, next_url=request.GET.get("next", ""), open_form=open_form
    )
    return _row(request, context)


@require_POST
@permission_required(VIEW, raise_exception=True)
def saved_filter_save(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = SaveFilterForm(request.POST)
    params = {name: request.POST.get(name, "") for name in FILTER_FIELDS}
    if form.is_valid():
        saved = services.saved_filter_save(
            user=request.user, name=form.cleaned_data["name"], params=params
        )
        messages.success(request, _("Saved the filter “%(name)s”.") % {"name": saved.name})
    else:
        messages.error(request, _first_error(form))
    query = urlencode({key: value for key, value in params.items() if value})
    return redirect(f"{reverse('pipeline:queue')}?{query}")


@require_POST
@permission_required(VIEW, raise_exception=True)
def saved_filter_delete(request: AuthenticatedHttpRequest, saved_filter_id: int) -> HttpResponse:
    if services.saved_filter_delete(user=request.user, saved_filter_id=saved_filter_id):
        messages.success(request, _("Saved filter removed."))
    return redirect("pipeline:queue")


@require_GET
@permission_required("scoring.view_lead", raise_exception=True)
def lead_detail(request: AuthenticatedHttpRequest, lead_id: int) -> HttpResponse:
    page = lead_page_get(lead_id=lead_id, timeline_page=request.GET.get("activities"))
    context = {
        "p": page,
        "lead": page.lead,
        "can_handle_personal_data": privacy.can_handle_personal_data(request.user),
    }
    if request.htmx and request.htmx.target == "timeline":
        return render(request, "pipeline/lead_detail.html#timeline", context)
    return render(request, "pipeline/lead_detail.html", context)


# --- A person's data rights (admins): export everything about the lead, or erase it.


# Keyed by "n", the count they are formatted with, which picks the plural form.
_STORED_KINDS = {
    "activities": ngettext_lazy("%(n)d activity", "%(n)d activities", "n"),
    "scores": ngettext_lazy("%(n)d score", "%(n)d scores", "n"),
    "score_events": ngettext_lazy("%(n)d score event", "%(n)d score events", "n"),
    "handoffs": ngettext_lazy("%(n)d handoff", "%(n)d handoffs", "n"),
    "handoff_actions": ngettext_lazy("%(n)d handoff log entry", "%(n)d handoff log entries", "n"),
    "outcomes": ngettext_lazy("%(n)d outcome", "%(n)d outcomes", "n"),
    "visitors": ngettext_lazy("%(n)d tracked browser", "%(n)d tracked browsers", "n"),
    "pending_visits": ngettext_lazy("%(n)d anonymous page view", "%(n)d anonymous page views", "n"),
    "pending_rescores": ngettext_lazy("%(n)d waiting rescore", "%(n)d waiting rescores", "n"),
    "unscorable_records": ngettext_lazy("%(n)d unscorable record", "%(n)d unscorable records", "n"),
    "webhook_deliveries": ngettext_lazy("%(n)d webhook delivery", "%(n)d webhook deliveries", "n"),
}


def _what_is_stored(counts: dict[str, int]) -> list[str]:
    """The counts as phrases ("12 activities"), leaving out the kinds with none."""
    return [phrase % {"n": counts[kind]} for kind, phrase in _STORED_KINDS.items() if counts[kind]]


@require_GET
@permission_required(privacy.PERMISSION, raise_exception=True)
def lead_personal_data(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = get_object_or_404(Lead, pk=lead_id)
    document = privacy.person_export(lead=lead)
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False),
        content_type="application/json; charset=utf-8",
    )
    # The lead's id, not its name: the file name shows in download lists and logs.
    response["Content-Disposition"] = f'attachment; filename="lead-{lead.pk}-personal-data.json"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@permission_required(privacy.PERMISSION, raise_exception=True)
def lead_erase(request: AuthenticatedHttpRequest, lead_id: int) -> HttpResponse:
    """GET asks for confirmation (typing the lead's e-mail address, else its id); POST erases."""
    lead = get_object_or_404(Lead, pk=lead_id)
    phrase = lead.email or str(lead.pk)
    error = ""
    if request.method == "POST":
        typed = request.POST.get("confirmation", "").strip()
        if typed.casefold() == phrase.casefold():
            try:
                report = privacy.person_erase(lead=lead, by=request.user)
            except Lead.DoesNotExist:  # erased meanwhile by another request
                raise Http404 from None
            what = _what_is_stored(report.counts)
            # No name or address in the message: it is kept in the session until shown.
            if what:
                text = _(
                    "Lead %(id)s was erased, with everything stored about the person: %(what)s."
                ) % {"id": report.lead_id, "what": ", ".join(what)}
            else:
                text = _("Lead %(id)s was erased; nothing else was stored about the person.") % {
                    "id": report.lead_id
                }
            messages.success(request, text)
            return redirect("pipeline:queue")
        error = _("What you typed does not match; nothing was erased.")
    context = {
        "lead": lead,
        "phrase": phrase,
        "error": error,
        "stored": _what_is_stored(privacy.person_data_counts(lead=lead)),
    }
    return render(request, "pipeline/lead_erase.html", context, status=400 if error else 200)
