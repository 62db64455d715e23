"""Who may open what: every URL of the project × every role, against an allow-list.

The walk covers every route `django.urls.get_resolver()` knows (the app's pages, every API route
and method, every admin screen of every registered model), fills its parameters with the ids and
slugs of one existing row each, and sends each request as each role. A pair not in the allow-list
below must be refused: a redirect to a sign-in page, 401, 403 or 404. A pair in it must get
through (no refusal, no 405, no server error). A route, method or admin model the allow-list
does not name fails the walk: a new URL is classified before it ships.

Every request runs in a savepoint that is rolled back, so a publish or a delete allowed to one
role leaves the same rows for the next. The allow-list is the documentation of who may do what.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from integrations.models import TrackingSite, Visitor, WebhookDelivery, WebhookEndpoint
from integrations.tokens import ingestion_token_create
from pipeline.models import AssignmentRule, SavedQueueFilter
from rules_admin.models import Proposal, ProposalComment
from scoring.models import (
    Handoff,
    HandoffAction,
    LeadOutcome,
    LeadScore,
    RejectionReason,
    RescoreRun,
    ScoreEvent,
    UnscorableLead,
)
from scoring.services import scoring_model_load
from tests.factories import AccountFactory, ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db

ANON, SALES, MARKETING, ADMIN, TOKEN = "anonymous", "sales", "marketing", "admin", "token"
USERS = (SALES, MARKETING, ADMIN)
SIGNED_IN = frozenset(USERS)
EVERYONE = frozenset({ANON, *USERS})  # the ingestion token is tried on the API only
PUBLIC_API = EVERYONE | {TOKEN}
NOBODY: frozenset[str] = frozenset()


def _only(*roles: str) -> frozenset[str]:
    return frozenset(roles)


# --- the allow-list: the app's pages and the API ------------------------------------------------
# route name -> method -> the roles that get through. Sales works handoffs, updates leads and
# proposes rule changes; marketing edits and publishes the rules, adds leads, accounts and
# activities and exports; admins do everything; an ingestion token only writes leads and
# activities; anyone may sign in, read the API's schema and send the tracking beacon.
ALLOWED: dict[str, dict[str, frozenset[str]]] = {
    "home": {"GET": SIGNED_IN},
    "login": {"GET": EVERYONE, "POST": EVERYONE},
    "logout": {"POST": SIGNED_IN},
    "set_language": {"POST": EVERYONE},
    # The rule editor: everyone with a role reads; marketing (and admins) edit and publish; sales
    # proposes and comments.
    "rules_admin:list": {"GET": SIGNED_IN},
    "rules_admin:model": {"GET": SIGNED_IN},
    "rules_admin:criterion_new": {"GET": _only(MARKETING, ADMIN), "POST": _only(MARKETING, ADMIN)},
    "rules_admin:criterion_edit": {"GET": _only(MARKETING, ADMIN), "POST": _only(MARKETING, ADMIN)},
    "rules_admin:criterion_action": {"POST": _only(MARKETING, ADMIN)},
    "rules_admin:thresholds": {"POST": _only(MARKETING, ADMIN)},
    "rules_admin:whatif": {"GET": SIGNED_IN},
    "rules_admin:publish": {"POST": _only(MARKETING, ADMIN)},
    "rules_admin:run": {"GET": SIGNED_IN},
    "rules_admin:history": {"GET": SIGNED_IN},
    "rules_admin:restore": {"POST": _only(MARKETING, ADMIN)},
    "rules_admin:proposals": {"GET": SIGNED_IN, "POST": _only(SALES, ADMIN)},
    "rules_admin:proposal": {"GET": SIGNED_IN, "POST": SIGNED_IN},
    "rules_admin:proposal_apply": {"POST": _only(MARKETING, ADMIN)},
    "rules_admin:proposal_decline": {"POST": _only(MARKETING, ADMIN)},
    "learning:model": {"GET": SIGNED_IN},
    "learning:to_draft": {"POST": _only(MARKETING, ADMIN)},
    "learning:train": {"POST": _only(MARKETING, ADMIN)},
    "learning:backtest": {"GET": SIGNED_IN},
    # Reports for every role; exports (personal data) for marketing and admins.
    "reports:dashboard": {"GET": SIGNED_IN},
    "reports:export": {"GET": _only(MARKETING, ADMIN)},
    # The queue: everyone with a role sees it; only sales (and admins) act on a handoff.
    "pipeline:queue": {"GET": SIGNED_IN},
    "pipeline:handoff": {"GET": SIGNED_IN, "POST": _only(SALES, ADMIN)},
    "pipeline:saved_filter_save": {"POST": SIGNED_IN},
    "pipeline:saved_filter_delete": {"POST": SIGNED_IN},
    "pipeline:leads": {"GET": SIGNED_IN},
    "pipeline:lead_detail": {"GET": SIGNED_IN},
    # A person's data rights: export everything about a lead, or erase it; admins only.
    "pipeline:lead_personal_data": {"GET": _only(ADMIN)},
    "pipeline:lead_erase": {"GET": _only(ADMIN), "POST": _only(ADMIN)},
    # The API. Methods are those the routes serve; every one must be listed.
    "api:lead-list": {"GET": SIGNED_IN, "POST": _only(MARKETING, ADMIN, TOKEN)},
    "api:lead-upsert": {"POST": _only(MARKETING, ADMIN, TOKEN)},
    "api:lead-detail": {"GET": SIGNED_IN, "PUT": SIGNED_IN, "PATCH": SIGNED_IN},
    "api:lead-personal_data": {"GET": _only(ADMIN)},
    "api:lead-erase": {"POST": _only(ADMIN)},
    "api:account-list": {"GET": SIGNED_IN, "POST": _only(MARKETING, ADMIN)},
    "api:account-upsert": {"POST": _only(MARKETING, ADMIN)},
    "api:account-detail": {
        "GET": SIGNED_IN,
        "PUT": _only(MARKETING, ADMIN),
        "PATCH": _only(MARKETING, ADMIN),
    },
    "api:activity-list": {"POST": _only(MARKETING, ADMIN, TOKEN)},
    "api:activity-bulk": {"POST": _only(MARKETING, ADMIN, TOKEN)},
    "api:scoring-model-list": {"GET": SIGNED_IN, "POST": _only(MARKETING, ADMIN)},
    "api:scoring-model-detail": {"GET": SIGNED_IN},
    "api:scoring-model-draft": {"PUT": _only(MARKETING, ADMIN)},
    "api:scoring-model-publish": {"POST": _only(MARKETING, ADMIN)},
    "api:score-list": {"GET": SIGNED_IN},
    "api:handoff-list": {"GET": SIGNED_IN},
    "api:handoff-detail": {"GET": SIGNED_IN},
    "api:handoff-accept": {"POST": _only(SALES, ADMIN)},
    "api:handoff-reject": {"POST": _only(SALES, ADMIN)},
    "api:handoff-qualify": {"POST": _only(SALES, ADMIN)},
    "api:handoff-outcome": {"POST": _only(SALES, ADMIN)},
    "api-schema": {"GET": PUBLIC_API},
    "api-docs": {"GET": PUBLIC_API},
    # The beacon takes registered site keys from anyone; the demo page of a site is for admins.
    "tracking-beacon": {"POST": EVERYONE, "OPTIONS": EVERYONE},
    "tracking-demo": {"GET": _only(ADMIN)},
    # The admin's own screens: only admins (staff) get in; anyone may see its sign-in page.
    "admin:index": {"GET": _only(ADMIN)},
    "admin:login": {"GET": EVERYONE},
    "admin:logout": {"POST": _only(ADMIN)},
    "admin:password_change": {"GET": _only(ADMIN)},
    "admin:password_change_done": {"GET": _only(ADMIN)},
    "admin:autocomplete": {"GET": _only(ADMIN)},
    "admin:jsi18n": {"GET": _only(ADMIN)},
    "admin:app_list": {"GET": _only(ADMIN)},
    "admin:view_on_site": {"GET": NOBODY},  # no model has a page of its own on the site
    "admin:catch_all": {"GET": NOBODY},
}

# --- the allow-list: the admin's model screens ---------------------------------------------------
# What an admin may do with each registered model there; sales and marketing are not staff and
# get no admin screen at all. Leads and accounts save through the API's services, activities
# delete through scoring.services (their leads are queued for rescoring). Handoffs, outcomes,
# scoring models, versions, scores and what the rescores and the beacon write are read-only:
# the queue, the rule editor and publishing are the way to change them.
EDIT = frozenset({"view", "add", "change", "delete"})
VIEW = frozenset({"view"})
ADMIN_MODELS: dict[str, frozenset[str]] = {
    "auth.group": EDIT,
    "auth.user": EDIT,
    "authtoken.tokenproxy": EDIT,
    "scoring.account": EDIT,
    "scoring.lead": frozenset({"view", "add", "change"}),  # erased on the lead page instead
    "scoring.activity": frozenset({"view", "delete"}),
    "scoring.leadoutcome": VIEW,
    "scoring.scoringmodel": VIEW,
    "scoring.scoringmodelversion": VIEW,
    "scoring.leadscore": VIEW,
    "scoring.handoff": VIEW,
    "scoring.rejectionreason": EDIT,
    "scoring.scoreevent": VIEW,
    "scoring.rescorerun": VIEW,
    "scoring.unscorablelead": VIEW,
    "rules_admin.proposal": VIEW,
    "integrations.ingestiontoken": EDIT,
    "integrations.trackingsite": EDIT,
    "integrations.visitor": frozenset({"view", "delete"}),
    "integrations.webhookendpoint": EDIT,
    "integrations.webhookdelivery": frozenset({"view", "delete"}),
    "pipeline.assignmentrule": EDIT,
    "pipeline.savedqueuefilter": EDIT,
}
# django-axes' sign-in log: read, and deleted to lift a lockout (its change form has only
# read-only fields).
if apps.is_installed("axes"):
    ADMIN_MODELS.update(
        {f"axes.{name}": frozenset({"view", "change", "delete"})
         for name in ("accessattempt", "accesslog", "accessfailurelog")}
    )  # fmt: skip
# Each admin screen, by method, and the ability it needs.
ADMIN_SCREENS: dict[str, dict[str, str]] = {
    "changelist": {"GET": "view"},
    "add": {"GET": "add", "POST": "add"},
    "change": {"GET": "view", "POST": "change"},
    "delete": {"GET": "delete", "POST": "delete"},
    "history": {"GET": "view"},
    "redirect": {"GET": "view"},  # <id>/ sends to the change page
    "password_change": {"GET": "change", "POST": "change"},  # a user's password
}

DENIED_STATUSES = (401, 403, 404)
SIGN_IN = ("/login/", "/admin/login/")
SIGN_OUT = ("logout", "admin:logout")


# --- the walk -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    key: str  # the allow-list entry
    name: str | None  # what reverse() takes; None for the admin's unnamed routes
    params: tuple[str, ...]
    pattern: str
    methods: tuple[str, ...] | None  # what a DRF route serves; None: declared in the allow-list
    admin_model: str | None = None  # app_label.model_name of an admin model screen
    admin_screen: str | None = None


def _params(pattern: URLPattern | URLResolver) -> tuple[str, ...]:
    return tuple(pattern.pattern.regex.groupindex)


def _walk(
    resolver: URLResolver, prefix: str = "", namespace: str = "", params: tuple[str, ...] = ()
) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        text = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if entry.namespace else namespace
            yield from _walk(entry, text, inner.strip(":"), params + _params(entry))
            continue
        names = params + _params(entry)
        admin_model = _admin_model(prefix) if namespace == "admin" else None
        if entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            key = name
            screen = None
            if admin_model:
                screen = entry.name.removeprefix(admin_model.replace(".", "_") + "_")
        elif admin_model and names == ("object_id",):
            name, key, screen = None, f"admin:{admin_model}:redirect", "redirect"
        elif namespace == "admin" and names == ("url",):
            name, key, screen = None, "admin:catch_all", None
        else:
            raise AssertionError(f"{text}: give this route a name and classify it")
        actions = getattr(entry.callback, "actions", None)
        methods = tuple(sorted(m.upper() for m in actions)) if actions else None
        yield Route(key, name, names, text, methods, admin_model, screen)


def _admin_model(prefix: str) -> str | None:
    match = re.fullmatch(r"admin/(\w+)/(\w+)/", prefix)
    return f"{match[1]}.{match[2]}" if match else None


ROUTES = list(_walk(get_resolver()))


def _allowed(route: Route) -> dict[str, frozenset[str]]:
    """The allow-list entry of a route: method -> roles; raises when the route is unclassified."""
    if route.admin_model:
        abilities = ADMIN_MODELS.get(route.admin_model)
        screens = ADMIN_SCREENS.get(route.admin_screen or "")
        assert abilities is not None, f"{route.admin_model}: classify it in ADMIN_MODELS"
        assert screens is not None, f"{route.pattern}: classify the screen in ADMIN_SCREENS"
        return {
            method: _only(ADMIN) if needed in abilities else NOBODY
            for method, needed in screens.items()
        }
    entry = ALLOWED.get(route.key)
    assert entry is not None, f"{route.pattern} ({route.key}): classify it in ALLOWED"
    if route.methods is not None:
        assert set(entry) == set(route.methods) - {"OPTIONS", "HEAD"}, (
            f"{route.key} serves {route.methods}; ALLOWED lists {sorted(entry)}"
        )
    return entry


# --- one row of everything, so that every parameter has a value ----------------------------------

MODEL = {
    "slug": "web", "name": "Web", "mql_threshold": 50,
    "bands": [{"label": "cold", "min": 0}, {"label": "hot", "min": 50}],
    "criteria": [
        {"name": "Visit", "type": "activity", "kinds": ["page_view"], "points": 5},
        {"name": "Webinar", "type": "activity", "kinds": ["webinar_attended"], "points": 50,
         "count": "once"},
    ],
}  # fmt: skip


@dataclass
class World:
    users: dict[str, Any]
    rows: dict[str, Any]  # app_label.model_name -> one row
    ingestion_key: str
    sessions: dict[str, str]  # role -> session cookie, signed in once


@pytest.fixture
def world(sales_user, marketing_user, admin_user_role) -> World:  # type: ignore[no-untyped-def]
    now = timezone.now()
    scoring_model, version = scoring_model_load(data=MODEL, user=marketing_user)
    account = AccountFactory()
    lead = LeadFactory(account=account, owner=sales_user)
    handoff = Handoff.objects.create(
        lead=lead, scoring_model=scoring_model, owner=sales_user, score_at_handoff=55,
        sla_due_at=now + timedelta(days=1),
    )  # fmt: skip
    HandoffAction.objects.create(handoff=handoff, kind=HandoffAction.Kind.CREATED)
    proposal = Proposal.objects.create(
        scoring_model=scoring_model, author=sales_user, reason="Visits say little", edits=[]
    )
    ProposalComment.objects.create(proposal=proposal, author=marketing_user, text="Why?")
    token, key = ingestion_token_create(name="Web forms", source="webforms")
    site = TrackingSite.objects.create(name="Shop", allowed_origins=["https://www.example.com"])
    endpoint = WebhookEndpoint.objects.create(
        name="CRM", url="https://crm.example.com/hook", events=["lead.mql"]
    )
    rows = {
        "auth.group": Group.objects.get(name=SALES),
        "auth.user": sales_user,
        "authtoken.tokenproxy": Token.objects.create(user=admin_user_role),
        "scoring.account": account,
        "scoring.lead": lead,
        "scoring.activity": ActivityFactory(lead=lead),
        "scoring.leadoutcome": LeadOutcome.objects.create(
            lead=lead, outcome="won", occurred_at=now, value=1000
        ),
        "scoring.scoringmodel": scoring_model,
        "scoring.criterion": scoring_model.criteria.get(name="Visit"),
        "scoring.scoringmodelversion": version,
        "scoring.leadscore": LeadScore.objects.create(
            lead=lead,
            scoring_model=scoring_model,
            version=version,
            total=55,
            fit=0,
            engagement=55,
            band="hot",
            mql=True,
            computed_at=now,
        ),  # fmt: skip
        "scoring.handoff": handoff,
        "scoring.rejectionreason": RejectionReason.objects.create(
            code="matrix-no-budget", label="No budget"
        ),
        "scoring.scoreevent": ScoreEvent.objects.create(
            lead=lead,
            scoring_model=scoring_model,
            version=version,
            kind="mql_reached",
            to_total=55,
            occurred_at=now,
        ),  # fmt: skip
        "scoring.rescorerun": RescoreRun.objects.create(
            scoring_model=scoring_model, version=version, trigger=RescoreRun.Trigger.MANUAL
        ),
        "scoring.unscorablelead": UnscorableLead.objects.create(lead=lead, reason="a test"),
        "rules_admin.proposal": proposal,
        "integrations.ingestiontoken": token,
        "integrations.trackingsite": site,
        "integrations.visitor": Visitor.objects.create(site=site, visitor_id="v-1", lead=lead),
        "integrations.webhookendpoint": endpoint,
        "integrations.webhookdelivery": WebhookDelivery.objects.create(
            endpoint=endpoint, event="lead.mql", event_key="lead.mql:1", payload={}
        ),
        "pipeline.assignmentrule": AssignmentRule.objects.create(
            match=AssignmentRule.Match.COUNTRY, value="DE", assignee=sales_user
        ),
        "pipeline.savedqueuefilter": SavedQueueFilter.objects.create(
            user=sales_user, name="Mine", params={"owner": "me"}
        ),
    }
    if apps.is_installed("axes"):
        seen = {"user_agent": "test", "ip_address": "127.0.0.1", "username": "sam",
                "http_accept": "*/*", "path_info": "/login/", "attempt_time": now}  # fmt: skip
        for name, extra in [
            ("AccessAttempt", {"get_data": "", "post_data": "", "failures_since_start": 1}),
            ("AccessLog", {}),
            ("AccessFailureLog", {}),
        ]:
            model = apps.get_model("axes", name)
            rows[model._meta.label_lower] = model.objects.create(**seen, **extra)
    users = {SALES: sales_user, MARKETING: marketing_user, ADMIN: admin_user_role}
    sessions = {}
    for role, user in users.items():
        client = Client()
        client.force_login(user)
        sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return World(users, rows, key, sessions)


# route key -> parameter -> the row (app_label.model_name) whose pk it takes, or a fixed value.
_ROW_PARAMS: dict[str, dict[str, str]] = {
    "rules_admin:criterion_edit": {"pk": "scoring.criterion"},
    "rules_admin:criterion_action": {"pk": "scoring.criterion"},
    "rules_admin:run": {"pk": "scoring.rescorerun"},
    "rules_admin:proposal": {"pk": "rules_admin.proposal"},
    "rules_admin:proposal_apply": {"pk": "rules_admin.proposal"},
    "rules_admin:proposal_decline": {"pk": "rules_admin.proposal"},
    "pipeline:handoff": {"handoff_id": "scoring.handoff"},
    "pipeline:saved_filter_delete": {"saved_filter_id": "pipeline.savedqueuefilter"},
    "pipeline:lead_detail": {"lead_id": "scoring.lead"},
    "pipeline:lead_personal_data": {"lead_id": "scoring.lead"},
    "pipeline:lead_erase": {"lead_id": "scoring.lead"},
    "api:lead-personal_data": {"pk": "scoring.lead"},
    "api:lead-erase": {"pk": "scoring.lead"},
    "api:lead-detail": {"pk": "scoring.lead"},
    "api:account-detail": {"pk": "scoring.account"},
    "api:handoff-detail": {"pk": "scoring.handoff"},
    "api:handoff-accept": {"pk": "scoring.handoff"},
    "api:handoff-reject": {"pk": "scoring.handoff"},
    "api:handoff-qualify": {"pk": "scoring.handoff"},
    "api:handoff-outcome": {"pk": "scoring.handoff"},
}
_FIXED = {"format": "json", "action": "toggle", "number": 1, "dataset": "leads",
          "extension": "csv", "app_label": "scoring"}  # fmt: skip
# Headers some routes need to get past their own checks.
_HEADERS = {"tracking-beacon": {"Origin": "https://www.example.com"}}
# Query strings some screens need to get past their own input checks.
_QUERY = {
    "admin:autocomplete": "?app_label=scoring&model_name=lead&field_name=account",
}


def _url(route: Route, world: World) -> str:
    rows = world.rows
    if route.key == "admin:catch_all":
        return "/admin/no/such/page/"
    if route.admin_screen == "redirect":
        model = rows[route.admin_model]
        return reverse(f"admin:{route.admin_model.replace('.', '_')}_changelist") + f"{model.pk}/"
    kwargs: dict[str, Any] = {}
    for param in route.params:
        if param in _FIXED:
            kwargs[param] = _FIXED[param]
        elif param in ("object_id", "id") and route.admin_model:
            kwargs[param] = rows[route.admin_model].pk
        elif param == "slug":
            kwargs[param] = rows["scoring.scoringmodel"].slug
        elif param == "site_key":
            kwargs[param] = rows["integrations.trackingsite"].site_key
        elif route.key == "admin:view_on_site":
            lead = rows["scoring.lead"]
            ids = {"content_type_id": ContentType.objects.get_for_model(lead).pk,
                   "object_id": lead.pk}  # fmt: skip
            kwargs[param] = ids[param]
        elif param in _ROW_PARAMS.get(route.key, {}):
            kwargs[param] = rows[_ROW_PARAMS[route.key][param]].pk
        else:
            raise AssertionError(f"{route.pattern}: say which row fills {param!r}")
    return reverse(route.name, kwargs=kwargs) + _QUERY.get(route.key, "")


def _methods(route: Route) -> list[str]:
    return sorted(_allowed(route))


def _send(world: World, route: Route, role: str, method: str, url: str) -> HttpResponse:
    """One request as `role`, in a savepoint rolled back afterwards (a sign-out too: the session
    stays for the next request); a fresh client each time."""
    savepoint = transaction.atomic()
    # As Django's TestCase marks its own blocks: a service's durable block may run inside.
    savepoint._from_testcase = True  # type: ignore[attr-defined]
    with savepoint:
        client = Client(raise_request_exception=False)  # a server error is a wrong cell
        headers = dict(_HEADERS.get(route.key, {}))
        if role in world.sessions:
            client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
        elif role == TOKEN:
            headers["Authorization"] = f"Bearer {world.ingestion_key}"
        if method == "GET":
            response = client.get(url, headers=headers)
        elif url.startswith("/api/"):
            response = client.generic(
                method, url, data="{}", content_type="application/json", headers=headers
            )
        else:
            response = client.generic(
                method, url, data="", content_type="application/x-www-form-urlencoded",
                headers=headers,
            )  # fmt: skip
        transaction.set_rollback(True)
    return response


def _denied(route: Route, response: HttpResponse) -> bool:
    if route.key in SIGN_OUT:  # it got through when it signed out, to the sign-in page
        return response.status_code != 302 or response["Location"] != reverse("login")
    if response.status_code in DENIED_STATUSES:
        return True
    if response.status_code == 302:
        return response["Location"].split("?")[0].endswith(SIGN_IN)
    return False


def _roles(route: Route) -> tuple[str, ...]:
    return (ANON, *USERS, TOKEN) if route.pattern.startswith("api/") else (ANON, *USERS)


# --- the tests ------------------------------------------------------------------------------------


AREAS = {
    "the admin's model screens": lambda route: route.admin_model is not None,
    "the admin's other screens": lambda route: route.key.startswith("admin:")
    and route.admin_model is None,
    "the API": lambda route: route.pattern.startswith("api/"),
    "the app's pages": lambda route: not route.key.startswith("admin:")
    and not route.pattern.startswith("api/"),
}


def test_every_url_method_and_admin_model_is_classified():
    unclassified = []
    for route in ROUTES:
        try:
            _allowed(route)
        except AssertionError as error:
            unclassified.append(str(error))
    assert not unclassified, "\n".join(unclassified)
    keys = {route.key for route in ROUTES}
    assert not set(ALLOWED) - keys, "ALLOWED names routes that no longer exist"
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert set(ADMIN_MODELS) == registered


@pytest.mark.parametrize("area", AREAS)
def test_each_role_gets_exactly_what_the_allow_list_says(world, area):
    routes = [route for route in ROUTES if AREAS[area](route)]
    assert routes
    wrong = []
    for route in routes:
        allowed = _allowed(route)
        url = _url(route, world)
        for method in sorted(allowed):
            for role in _roles(route):
                response = _send(world, route, role, method, url)
                code = response.status_code
                where = f" -> {response['Location']}" if code in (301, 302) else ""
                if role in allowed[method]:
                    if _denied(route, response) or code == 405 or code >= 500:
                        wrong.append(f"{method} {url} as {role}: {code}{where}, should get through")
                elif not _denied(route, response):
                    wrong.append(f"{method} {url} as {role}: {code}{where}, should be refused")
    assert not wrong, "\n".join(wrong)


def test_the_matrix_is_the_size_it_claims():
    cells = sum(len(_allowed(route)) * len(_roles(route)) for route in ROUTES)
    assert len(ROUTES) > 200 and cells > 900
