"""Synthetic CRM worlds for the learning benchmark (benchmarks/learning.py).

`world_write(name, folder, leads, seed)` writes an `import_crm` folder (accounts.csv, leads.csv,
activities.csv, outcomes.csv; only columns import_crm knows, plus extra lead and account columns
that land in `attributes` and extra activity columns that land in `properties`) and beside it the
scoring model a marketer might have written for that world, and returns the model's path.

Two worlds of different shape, both over the half year before END:

- `b2b`: companies (industry, head count, revenue, target-account and competitor flags, the CRM
  they run today) with a buying committee of one to about fifteen people each (department,
  seniority, job title, lead source, and today's lifecycle stage, which the outcome moved: a won
  lead is a customer now). Page views (/pricing, /features, /integrations, /customers,
  /blog/..., /jobs/...), newsletter signups, opens and clicks, downloads, webinars and demo
  requests; outcomes won (with a deal value), lost or disqualified. Its model's audience leaves
  out customers and disqualified leads, as the shipped B2B model's does.
- `b2c`: consumers without a company (age band, region, newsletter, loyalty card, device, an
  interest, sometimes a birthday). Page views (/, /sale, /stores, /blog, /jobs), product views
  with a category, cart adds, store-locator searches, newsletter opens and clicks and small
  earlier purchases; outcomes converted (with the order value) or lost.

Each lead's outcome is drawn from a hidden propensity: a logistic function of its fit (some of it
observable, some not: an account's need, a person's own noise), of its behaviour in the days
before the decision (what it did, how often and how recently; in the b2b world also how many
colleagues were active), of a few interactions, and of noise; its intercept is solved so that the
world's base rate is BASE_RATE. The decision lies after every activity that led to it. Activities
after the decision are there too (customers keep visiting, a converted consumer's order lands at
the very moment of the outcome, lost leads drift away), so anything that reads past the decision
is rewarded for cheating. Some leads are still open at END: they have no outcome.

Each world's scoring model mixes rules that are right with useless ones (newsletter opens, a
birthday), ones with the wrong sign (blog readers, Salesforce users, a sale page, young adults)
and ones with the wrong weight or look-back (a narrow head-count band worth 100 points, cart adds
that never expire), as hand-made models do.

Everything is drawn from one `random.Random(seed)`: the same seed writes the same files.
"""

import csv
import math
import random
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

WORLDS = ("b2b", "b2c")
END = datetime(2026, 6, 1, tzinfo=UTC)
DAY = 86_400
SPAN = 182 * DAY  # the world's activities lie in (END - SPAN, END]
START = END - timedelta(seconds=SPAN)
END_SECONDS = SPAN
BASE_RATE = {"b2b": 0.2, "b2c": 0.15}
# The part of the propensity that nothing in the data tells (on the logit scale).
NOISE = {"b2b": 1.2, "b2c": 1.0}

ACCOUNT_FIELDS = [
    "external_id", "name", "domain", "industry", "employee_count", "annual_revenue", "country",
    "is_target_account", "is_competitor", "crm_system", "founded",
]  # fmt: skip
B2B_LEAD_FIELDS = [
    "external_id", "email", "first_name", "last_name", "job_title", "seniority", "country",
    "source", "lifecycle_stage", "account_external_id", "created_at", "unsubscribed",
    "email_invalid", "department",
]  # fmt: skip
B2C_LEAD_FIELDS = [
    "external_id", "email", "first_name", "last_name", "country", "birthday", "source",
    "created_at", "unsubscribed", "email_invalid", "age_band", "region", "newsletter", "loyalty",
    "device", "interest",
]  # fmt: skip
B2B_ACTIVITY_FIELDS = [
    "external_id", "lead_external_id", "kind", "occurred_at", "channel", "url", "campaign",
    "asset", "webinar",
]  # fmt: skip
B2C_ACTIVITY_FIELDS = [
    "external_id", "lead_external_id", "kind", "occurred_at", "channel", "url", "category",
    "order_value", "campaign",
]  # fmt: skip
OUTCOME_FIELDS = ["lead_external_id", "outcome", "occurred_at", "value"]

FIRST_NAMES = [
    "Anna", "Jan", "Lena", "Lukas", "Sophie", "Max", "Emma", "Finn", "Mia", "Paul", "Lea",
    "Jonas", "Sanne", "Daan", "Julia", "Tim", "Laura", "Noah", "Eva", "Bram", "Jörg", "Käthe",
]  # fmt: skip
LAST_NAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "de Vries",
    "Jansen", "van Dijk", "Bakker", "Hoffmann", "Schulz", "Koch", "Richter", "Visser", "Smit",
]  # fmt: skip
_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", " ": ""})


# --- a world -------------------------------------------------------------------------------------


@dataclass
class _Lead:
    key: str
    row: dict[str, str]
    created: int  # seconds since START
    fit: float  # the hidden fit, observable parts and not
    intent: float  # drives behaviour: fit plus more hidden noise
    decided: int | None = None  # when its outcome happened (seconds since START); None: open
    before: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    after: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    outcome: str = ""
    value: str = ""


@dataclass
class _World:
    accounts: list[dict[str, str]]
    leads: list[_Lead]
    lead_fields: list[str]
    activity_fields: list[str]
    model: str


def world_write(name: str, folder: Path, leads: int, seed: int) -> Path:
    """Write world `name` with `leads` leads into `folder`; return its scoring model's path."""
    makers = {"b2b": _b2b, "b2c": _b2c}
    if name not in makers:
        raise ValueError(f"unknown world {name!r}: one of {', '.join(WORLDS)}")
    world = makers[name](max(1, leads), random.Random(seed))
    folder.mkdir(parents=True, exist_ok=True)
    if world.accounts:
        _write_csv(folder / "accounts.csv", ACCOUNT_FIELDS, world.accounts)
    _write_csv(folder / "leads.csv", world.lead_fields, (lead.row for lead in world.leads))
    _write_csv(folder / "activities.csv", world.activity_fields, _activity_rows(name, world))
    _write_csv(folder / "outcomes.csv", OUTCOME_FIELDS, _outcome_rows(world))
    path = folder / f"bench-{name}.yaml"
    path.write_text(world.model, encoding="utf-8")
    return path


def _write_csv(path: Path, fields: list[str], rows: Iterable[Mapping[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(fields)
        writer.writerows([row.get(f, "") for f in fields] for row in rows)


def _stamp(seconds: int) -> str:
    return (START + timedelta(seconds=seconds)).isoformat()


def _activity_rows(name: str, world: _World) -> Iterable[dict[str, str]]:
    number = 0
    for lead in world.leads:
        for at, kind, properties in sorted(lead.before + lead.after, key=lambda a: a[0]):
            number += 1
            channel = "email" if kind.startswith("email") else "web"
            if kind == "webinar_attended":
                channel = "event"
            yield {
                "external_id": f"{name}-e{number}",
                "lead_external_id": lead.key,
                "kind": kind,
                "occurred_at": _stamp(at),
                "channel": channel,
                **properties,
            }


def _outcome_rows(world: _World) -> Iterable[dict[str, str]]:
    for lead in world.leads:
        if lead.decided is not None:
            yield {
                "lead_external_id": lead.key,
                "outcome": lead.outcome,
                "occurred_at": _stamp(lead.decided),
                "value": lead.value,
            }


# --- drawing -------------------------------------------------------------------------------------


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def _pick(rng: random.Random, table: Mapping[str, tuple[float, float]]) -> tuple[str, float]:
    """A key of {key: (weight, effect)} drawn by weight, and its effect."""
    key = rng.choices(list(table), [w for w, _ in table.values()])[0]
    return key, table[key][1]


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def _intercept(logits: Sequence[float], rate: float) -> float:
    """The shift that makes the mean propensity `rate` (bisection: it is monotonic)."""
    low, high = -20.0, 20.0
    for _ in range(60):
        middle = (low + high) / 2
        if sum(_sigmoid(z + middle) for z in logits) / max(1, len(logits)) < rate:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _decide(rng: random.Random, logits: Sequence[float], rate: float) -> list[bool]:
    shift = _intercept(logits, rate)
    return [rng.random() < _sigmoid(z + shift) for z in logits]


def _person(rng: random.Random, number: int, domain: str) -> dict[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{first.lower().translate(_ASCII)}.{last.lower().translate(_ASCII)}.{number}"
    return {"first_name": first, "last_name": last, "email": f"{local}@{domain}"}


def _sessions(
    rng: random.Random, lead: _Lead, until: int, per_day: float, skew: float
) -> list[int]:
    """Session start times in [created, until - 2 h); with skew > 1 they bunch up near `until`."""
    span = until - 2 * 3600 - lead.created
    if span <= 0:
        return []
    count = min(80, _poisson(rng, per_day * span / DAY))
    return sorted(lead.created + int(rng.random() ** (1 / skew) * span) for _ in range(count))


def _between(times: Sequence[int], low: int, high: int) -> int:
    """How many of the sorted times lie in [low, high)."""
    return bisect_left(times, high) - bisect_left(times, low)


def _newsletters(
    rng: random.Random, lead: _Lead, until: int, opens: float, clicks: float
) -> list[tuple[int, str, dict[str, str]]]:
    """A newsletter every other Tuesday: opened (machine opens included) and sometimes clicked."""
    found: list[tuple[int, str, dict[str, str]]] = []
    first_tuesday = (1 - START.weekday()) % 7
    for sent in range(first_tuesday * DAY + 9 * 3600, until, 14 * DAY):
        if sent < lead.created or rng.random() >= opens:
            continue
        campaign = {"campaign": f"newsletter-{(START + timedelta(seconds=sent)):%Y-%m-%d}"}
        opened = sent + rng.randint(600, 3 * DAY)
        if opened < until:
            found.append((opened, "email_open", campaign))
            if rng.random() < clicks and opened + 60 < until:
                found.append((opened + 60, "email_click", campaign))
    return found


# --- b2b -----------------------------------------------------------------------------------------

# {value: (weight, effect on the hidden propensity)}
INDUSTRIES = {
    "software": (18, 0.5), "manufacturing": (22, 0.2), "finance": (10, 0.3), "retail": (14, 0.0),
    "logistics": (12, 0.1), "healthcare": (9, 0.0), "public sector": (8, -0.5),
    "education": (7, -0.6),
}  # fmt: skip
CRM_SYSTEMS = {
    "salesforce": (22, -0.4), "hubspot": (20, 0.0), "dynamics": (12, 0.0), "sap": (10, -0.2),
    "spreadsheet": (18, 0.5), "none": (18, 0.3),
}  # fmt: skip
SENIORITIES = {
    "executive": (6, 0.3), "director": (14, 0.6), "manager": (30, 0.4), "staff": (42, 0.0),
    "intern": (8, -1.5),
}  # fmt: skip
DEPARTMENTS = {
    "it": (26, 0.4), "operations": (14, 0.2), "finance": (12, 0.0), "marketing": (18, 0.1),
    "sales": (14, 0.0), "hr": (8, -0.4), "procurement": (8, 0.2),
}  # fmt: skip
B2B_SOURCES = {
    "organic": (30, 0.0), "paid_search": (20, 0.1), "event": (12, 0.4), "referral": (8, 0.7),
    "partner": (10, 0.3), "purchased_list": (20, -0.8),
}  # fmt: skip
B2B_COUNTRIES = {"DE": (55, 0.0), "NL": (20, 0.0), "AT": (12, 0.0), "CH": (8, 0.0), "BE": (5, 0.0)}
_DEPARTMENT_NAMES = {
    "it": ("IT", "IT"), "operations": ("Operations", "Betrieb"), "finance": ("Finance", "Finanzen"),
    "marketing": ("Marketing", "Marketing"), "sales": ("Sales", "Vertrieb"),
    "hr": ("HR", "Personal"), "procurement": ("Procurement", "Einkauf"),
}  # fmt: skip
_EXECUTIVES = {
    "it": "CTO", "operations": "COO", "finance": "CFO", "marketing": "CMO",
    "sales": "Chief Revenue Officer", "hr": "Chief People Officer",
    "procurement": "Geschäftsführer",
}  # fmt: skip
_STAFF = {
    "it": ["Software Engineer", "Systemadministrator", "IT-Berater"],
    "operations": ["Operations Analyst", "Sachbearbeiter Logistik"],
    "finance": ["Buchhalter", "Controller"],
    "marketing": ["Marketing Specialist", "Content Creator"],
    "sales": ["Account Executive", "Innendienst"], "hr": ["HR Specialist", "Recruiter"],
    "procurement": ["Sachbearbeiter Einkauf", "Buyer"],
}  # fmt: skip
_B2B_PAGES = ["/", "/features", "/pricing", "/integrations", "/customers", "/blog", "/jobs"]
_BLOG = ["crm-migration", "lead-scoring-101", "gdpr-checklist", "sales-playbook", "roi-rechner"]
_JOBS = ["werkstudent-marketing", "senior-developer", "account-executive"]
_ASSETS = ["whitepaper-lead-scoring", "case-study-logistics", "checklist-crm", "benchmark-2026"]
_WEBINARS = ["product-tour", "scoring-best-practice", "onboarding"]


def _title(rng: random.Random, department: str, seniority: str) -> str:
    english, german = _DEPARTMENT_NAMES[department]
    if seniority == "executive":
        return _EXECUTIVES[department]
    if seniority == "director":
        return rng.choice([f"Head of {english}", f"Leiter {german}", f"Director {english}"])
    if seniority == "manager":
        return rng.choice([f"{english} Manager", f"Teamleiter {german}"])
    if seniority == "intern":
        return rng.choice([f"Werkstudent {german}", "Student Assistant", f"Praktikant {german}"])
    return rng.choice(_STAFF[department])


def _size_effect(employees: int) -> float:
    for below, effect in ((10, -0.9), (20, -0.6), (50, -0.2), (200, 0.3), (1000, 0.8)):
        if employees < below:
            return effect
    return 0.6 if employees < 5000 else 0.1


def _b2b_accounts(
    count: int, rng: random.Random
) -> tuple[list[dict[str, str]], list[float], list[int]]:
    """Account rows, each account's hidden fit (need included) and head count."""
    rows, fits, sizes = [], [], []
    for i in range(count):
        employees = min(250_000, max(1, int(math.exp(rng.gauss(4.3, 1.7)))))
        industry, industry_effect = _pick(rng, INDUSTRIES)
        crm_system, crm_effect = _pick(rng, CRM_SYSTEMS)
        target = rng.random() < _sigmoid(-3.6 + 0.5 * math.log(employees + 1))
        competitor = rng.random() < 0.012
        revenue = ""
        if rng.random() < 0.8:
            revenue = str(int(round(employees * math.exp(rng.gauss(11.8, 0.5)), -3)))
        domain = f"firma{i}.example"
        rows.append({
            "external_id": f"b2b-a{i}",
            "name": f"{rng.choice(LAST_NAMES)} {rng.choice(['GmbH', 'AG', 'B.V.', 'KG'])} {i}",
            "domain": domain,
            "industry": industry,
            "employee_count": str(employees) if rng.random() < 0.93 else "",
            "annual_revenue": revenue,
            "country": _pick(rng, B2B_COUNTRIES)[0],
            "is_target_account": "true" if target else "false",
            "is_competitor": "true" if competitor else "false",
            "crm_system": crm_system if rng.random() < 0.85 else "",
            "founded": str(rng.randint(1950, 2024)),  # says nothing
        })  # fmt: skip
        need = rng.gauss(0, 0.6)  # how badly the company needs us: never in the data
        fit = _size_effect(employees) + industry_effect + crm_effect + 0.5 * target + need
        fits.append(fit - 3.0 * competitor)
        sizes.append(employees)
    return rows, fits, sizes


def _b2b_page(rng: random.Random, weights: Sequence[float]) -> str:
    page = rng.choices(_B2B_PAGES, weights)[0]
    if page == "/blog":
        return f"/blog/{rng.choice(_BLOG)}"
    if page == "/jobs":
        return f"/jobs/{rng.choice(_JOBS)}"
    if page == "/pricing" and rng.random() < 0.3:
        return "/pricing/enterprise"
    return page


def _b2b_behaviour(rng: random.Random, lead: _Lead, job_seeker: bool, subscribed: bool) -> None:
    """The activities before the decision (until END for a lead still open)."""
    intent = lead.intent
    until = END_SECONDS if lead.decided is None else lead.decided
    weights = [
        3.0, math.exp(0.3 * intent), 0.3 * math.exp(0.5 * intent), 0.5,
        0.4 * math.exp(0.3 * intent), 2.5 * math.exp(-0.2 * intent), 0.08 + 2.5 * job_seeker,
    ]  # fmt: skip
    acts = lead.before
    demo = False
    for start in _sessions(rng, lead, until, math.exp(0.35 * intent) / 12, 1 + max(0.0, intent)):
        at = start
        for _ in range(1 + min(9, int(rng.expovariate(0.6)))):
            acts.append((at, "page_view", {"url": _b2b_page(rng, weights)}))
            at += rng.randint(20, 240)
        if rng.random() < 0.06 * math.exp(0.3 * intent):
            acts.append((at, "content_download", {"asset": rng.choice(_ASSETS)}))
        if rng.random() < 0.025 * math.exp(0.5 * intent):
            acts.append((at + 600, "webinar_attended", {"webinar": rng.choice(_WEBINARS[:2])}))
        if not demo and rng.random() < 0.006 * math.exp(0.7 * intent):
            demo = True
            acts.append((at + 60, "demo_request", {"url": "/demo"}))
    if rng.random() < 0.3:
        acts.append((lead.created + rng.randint(0, 3600), "newsletter_signup", {}))
    if subscribed:
        acts += _newsletters(rng, lead, until, 0.22, min(0.6, 0.12 * math.exp(0.4 * intent)))


def _b2b_aftermath(rng: random.Random, lead: _Lead) -> None:
    """What a lead does after its outcome: customers onboard, the others drift away."""
    assert lead.decided is not None
    rate, pages = {
        "won": (1 / 4, ["/app/dashboard", "/docs/import", "/docs/api", "/pricing", "/features"]),
        "lost": (1 / 30, ["/", "/blog/crm-migration", "/pricing", "/features"]),
        "disqualified": (1 / 60, ["/", "/blog/lead-scoring-101", "/jobs/senior-developer"]),
    }[lead.outcome]  # fmt: skip
    count = _poisson(rng, rate * (END_SECONDS - lead.decided) / DAY)
    for _ in range(count):
        at = rng.randint(lead.decided + 60, END_SECONDS)
        lead.after.append((at, "page_view", {"url": rng.choice(pages)}))
        if rng.random() < 0.3:
            lead.after.append((at, "email_open", {"campaign": "onboarding"}))
        if lead.outcome == "won" and rng.random() < 0.08:
            lead.after.append((at, "webinar_attended", {"webinar": "onboarding"}))


def _b2b(count: int, rng: random.Random) -> _World:
    accounts, account_fits, sizes = _b2b_accounts(max(1, count // 3), rng)
    # Bigger companies bring more people: a buying committee.
    weights = [1 + math.log10(size + 1) ** 1.5 for size in sizes]
    homes = rng.choices(range(len(accounts)), weights, k=count)
    leads: list[_Lead] = []
    facts: list[tuple[int, str, bool]] = []  # home account, seniority, decision maker
    for i, home in enumerate(homes):
        seniority, seniority_effect = _pick(rng, SENIORITIES)
        department, department_effect = _pick(rng, DEPARTMENTS)
        source, source_effect = _pick(rng, B2B_SOURCES)
        invalid = rng.random() < (0.10 if source == "purchased_list" else 0.02)
        unsubscribed = rng.random() < 0.04
        job_seeker = rng.random() < (0.35 if seniority == "intern" else 0.05)
        account = accounts[home]
        row = {
            "external_id": f"b2b-l{i}",
            **_person(rng, i, account["domain"]),
            "job_title": _title(rng, department, seniority),
            "seniority": seniority,
            "country": account["country"] if rng.random() < 0.9 else "DE",
            "source": source,
            "account_external_id": account["external_id"],
            "unsubscribed": "true" if unsubscribed else "false",
            "email_invalid": "true" if invalid else "false",
            "department": department,
        }
        fit = account_fits[home] + seniority_effect + department_effect + source_effect
        fit += -1.0 * invalid - 0.3 * unsubscribed - 0.8 * job_seeker + rng.gauss(0, 0.5)
        created = rng.randint(0, SPAN - 21 * DAY)
        row["created_at"] = _stamp(created)
        lead = _Lead(row["external_id"], row, created, fit, fit + rng.gauss(0, 1.0))
        decided = created + int((10 + rng.gammavariate(2.0, 22.0)) * DAY)
        lead.decided = decided if decided < END_SECONDS - DAY else None
        _b2b_behaviour(rng, lead, job_seeker, not (invalid or unsubscribed))
        lead.before.sort(key=lambda a: a[0])
        leads.append(lead)
        facts.append((home, seniority, seniority in {"executive", "director"}))
    # Colleagues active in the 30 days before the decision: the committee is moving.
    times = [[at for at, _kind, _p in lead.before] for lead in leads]
    colleagues: dict[int, list[int]] = {}
    for i, (home, _s, _d) in enumerate(facts):
        colleagues.setdefault(home, []).append(i)
    decided_leads = [i for i, lead in enumerate(leads) if lead.decided is not None]
    logits = []
    for i in decided_leads:
        lead = leads[i]
        assert lead.decided is not None
        home, seniority, decision_maker = facts[i]
        active = sum(
            1
            for j in colleagues[home]
            if j != i and _between(times[j], lead.decided - 30 * DAY, lead.decided)
        )
        logits.append(_b2b_logit(rng, lead, sizes[home], min(3, active), decision_maker, seniority))
    won = _decide(rng, logits, BASE_RATE["b2b"])
    for i, converted in zip(decided_leads, won, strict=True):
        lead, (home, seniority, _d) = leads[i], facts[i]
        if converted:
            lead.outcome = "won"
            mean = math.log(6000 + 15 * sizes[home] ** 0.7)
            lead.value = f"{min(5e6, math.exp(rng.gauss(mean, 0.6))):.2f}"
        else:
            bad = (
                seniority == "intern"
                or lead.row["email_invalid"] == "true"
                or accounts[home]["is_competitor"] == "true"
                or sizes[home] < 10
            )
            lead.outcome = "disqualified" if rng.random() < (0.6 if bad else 0.15) else "lost"
        _b2b_aftermath(rng, lead)
    # Today's stage, as a CRM exports it: the outcome moved it (so it says nothing honest).
    stages = {
        "won": ["customer"],
        "disqualified": ["disqualified"],
        "lost": ["recycled", "recycled", "lead"],
        "": ["lead", "lead", "mql", "sal"],  # still open
    }
    for lead in leads:
        lead.row["lifecycle_stage"] = rng.choice(stages[lead.outcome])
    return _World(accounts, leads, B2B_LEAD_FIELDS, B2B_ACTIVITY_FIELDS, _model_yaml(B2B_MODEL))


def _b2b_logit(
    rng: random.Random,
    lead: _Lead,
    employees: int,
    active_colleagues: int,
    decision_maker: bool,
    seniority: str,
) -> float:
    assert lead.decided is not None
    decided = lead.decided
    demo = webinar = jobs = False
    pricing = features = recent_views = downloads = clicks = blog = 0
    last = lead.created
    for at, kind, properties in lead.before:
        age = decided - at
        last = max(last, at)
        url = properties.get("url", "")
        if kind == "demo_request":
            demo = True
        elif kind == "webinar_attended" and age < 90 * DAY:
            webinar = True
        elif kind == "content_download":
            downloads += 1
        elif kind == "email_click":
            clicks += 1
        elif kind == "page_view":
            recent_views += age < 7 * DAY
            pricing += url.startswith("/pricing") and age < 30 * DAY
            features += url == "/features" and age < 30 * DAY
            blog += url.startswith("/blog")
            jobs = jobs or url.startswith("/jobs")
    quiet_days = min(90.0, (decided - last) / DAY)
    sweet_spot = 200 <= employees < 5000
    return (
        0.6 * lead.fit
        + 1.2 * demo
        + 0.25 * min(pricing, 3)
        + 0.3 * math.log1p(features)
        + 0.7 * webinar
        + 0.25 * math.log1p(downloads)
        + 0.25 * math.log1p(recent_views)
        + 0.15 * math.log1p(clicks)
        - 0.5 * jobs
        - 0.1 * math.log1p(blog)
        - 0.025 * quiet_days
        + 0.35 * active_colleagues * decision_maker
        + 0.6 * demo * sweet_spot
        - 0.3 * (seniority == "intern") * demo  # a student's demo request is homework
        + rng.gauss(0, NOISE["b2b"])
    )


# --- b2c -----------------------------------------------------------------------------------------

AGE_BANDS = {
    "18-24": (16, -0.6), "25-34": (24, 0.0), "35-44": (21, 0.4), "45-54": (17, 0.5),
    "55-64": (13, 0.2), "65+": (9, -0.2),
}  # fmt: skip
REGIONS = {"Nord": (20, 0.0), "Süd": (26, 0.2), "West": (28, 0.0), "Ost": (16, -0.2),
           "Mitte": (10, 0.0)}  # fmt: skip
B2C_SOURCES = {
    "organic": (30, 0.1), "google_ads": (22, 0.2), "instagram": (20, -0.2), "affiliate": (14, -0.5),
    "newsletter": (14, 0.3),
}  # fmt: skip
CATEGORIES = ["paper", "paint", "brushes", "canvas", "pencils", "frames"]
_B2C_PAGES = ["/", "/sale", "/blog", "/stores", "/jobs", "/about"]


def _b2c_behaviour(
    rng: random.Random, lead: _Lead, facts: dict[str, str], subscribed: bool
) -> None:
    intent = lead.intent
    until = END_SECONDS if lead.decided is None else lead.decided
    favourite = facts["favourite"]
    bargain = facts["bargain"] == "yes"
    weights = [3.0, 0.4 + 2.0 * bargain, 0.8, 0.3, 0.05, 0.2]
    acts = lead.before
    skew = 1 + 1.5 * max(0.0, intent)
    for start in _sessions(rng, lead, until, math.exp(0.5 * intent) / 6, skew):
        at = start
        page = rng.choices(_B2C_PAGES, weights)[0]
        if page in {"/blog", "/jobs"}:
            page += rng.choice(["/aquarell-tipps", "/verkauf-filiale", "/neu-im-sortiment"])
        acts.append((at, "page_view", {"url": page}))
        for _ in range(min(12, int(rng.expovariate(0.4)))):
            at += rng.randint(15, 180)
            category = favourite if rng.random() < 0.6 else rng.choice(CATEGORIES)
            acts.append((at, "product_view", {"category": category,
                                               "url": f"/products/{category}"}))  # fmt: skip
            if rng.random() < 0.06 * math.exp(0.5 * intent):
                acts.append((at + 20, "cart_add", {"category": category}))
        if page == "/stores" or rng.random() < 0.01:
            acts.append((at + 30, "store_locator", {"url": "/stores"}))
    if facts["returning"] == "yes":  # a small earlier order: a sample, a gift card
        span = until - lead.created - 3 * 3600
        if span > 0:
            value = f"{rng.uniform(5, 40):.2f}"
            at = lead.created + rng.randint(0, span)
            acts.append((at, "purchase", {"order_value": value, "category": favourite}))
    if facts["newsletter"] == "yes":
        acts.append((lead.created + rng.randint(0, 600), "newsletter_signup", {}))
        if subscribed:
            clicks = min(0.6, 0.1 * math.exp(0.4 * intent))
            acts += _newsletters(rng, lead, until, 0.3, clicks)


def _b2c_logit(rng: random.Random, lead: _Lead, facts: dict[str, str]) -> float:
    assert lead.decided is not None
    decided = lead.decided
    cart_week = cart_month = cart_older = earlier = sale = store = False
    recent_views = clicks = 0
    days: set[int] = set()
    last = lead.created
    for at, kind, properties in lead.before:
        age = decided - at
        last = max(last, at)
        if kind == "cart_add":
            cart_week |= age < 7 * DAY
            cart_month |= 7 * DAY <= age < 30 * DAY
            cart_older |= age >= 30 * DAY
        elif kind == "product_view":
            recent_views += age < 7 * DAY
            if age < 30 * DAY:
                days.add(at // DAY)
        elif kind == "purchase":
            earlier = True
        elif kind == "store_locator":
            store = True
        elif kind == "email_click":
            clicks += 1
        elif kind == "page_view":
            sale |= properties.get("url") == "/sale"
    quiet_days = min(60.0, (decided - last) / DAY)
    loyal = facts["loyalty"] == "yes"
    mobile = facts["device"] == "mobile"
    return (
        0.9 * lead.fit
        + 1.5 * cart_week
        + 0.5 * cart_month
        + 0.1 * cart_older
        + 0.35 * math.log1p(recent_views)
        + 0.12 * min(6, len(days))
        + 0.9 * earlier
        - 0.35 * sale
        + 0.3 * store
        + 0.2 * math.log1p(clicks)
        - 0.04 * quiet_days
        + 0.5 * cart_week * loyal
        - 0.4 * cart_week * mobile
        + rng.gauss(0, NOISE["b2c"])
    )


def _b2c_aftermath(rng: random.Random, lead: _Lead, favourite: str) -> None:
    assert lead.decided is not None
    if lead.outcome == "converted":  # the order itself lands with the outcome
        lead.after.append((lead.decided, "purchase",
                           {"order_value": lead.value, "category": favourite}))  # fmt: skip
    rate = 1 / 5 if lead.outcome == "converted" else 1 / 40
    for _ in range(_poisson(rng, rate * (END_SECONDS - lead.decided) / DAY)):
        at = rng.randint(lead.decided + 60, END_SECONDS)
        lead.after.append((at, "product_view", {"category": favourite,
                                                 "url": f"/products/{favourite}"}))  # fmt: skip
        if lead.outcome == "converted" and rng.random() < 0.3:
            lead.after.append((at + 30, "cart_add", {"category": favourite}))
        if rng.random() < 0.2:
            lead.after.append((at + 60, "email_open", {"campaign": "thank-you"}))


def _b2c(count: int, rng: random.Random) -> _World:
    leads: list[_Lead] = []
    every_facts: list[dict[str, str]] = []
    for i in range(count):
        age_band, age_effect = _pick(rng, AGE_BANDS)
        region, region_effect = _pick(rng, REGIONS)
        source, source_effect = _pick(rng, B2C_SOURCES)
        newsletter = rng.random() < (0.8 if source == "newsletter" else 0.4)
        loyal = rng.random() < 0.18
        mobile = rng.random() < 0.65
        invalid = rng.random() < 0.03
        unsubscribed = newsletter and rng.random() < 0.08
        row = {
            "external_id": f"b2c-l{i}",
            **_person(rng, i, rng.choice(["example.de", "example.nl", "example.at"])),
            "country": rng.choices(["DE", "AT", "CH", "NL"], [78, 10, 7, 5])[0],
            "source": source,
            "unsubscribed": "true" if unsubscribed else "false",
            "email_invalid": "true" if invalid else "false",
            "age_band": age_band,
            "region": region,
            "newsletter": "yes" if newsletter else "no",
            "loyalty": "yes" if loyal else "no",
            "device": "mobile" if mobile else "desktop",
        }
        if rng.random() < 0.4:  # a birthday for the voucher: says nothing about buying
            low = {"18-24": 18, "25-34": 25, "35-44": 35, "45-54": 45, "55-64": 55}.get(
                age_band, 65
            )
            row["birthday"] = f"{2026 - low - rng.randint(1, 7)}-{rng.randint(1, 12):02d}-" + (
                f"{rng.randint(1, 28):02d}"
            )
        favourite = rng.choice(CATEGORIES)
        if rng.random() < 0.3:
            row["interest"] = favourite
        facts = {
            "favourite": favourite,
            "bargain": "yes" if rng.random() < (0.5 if source == "affiliate" else 0.15) else "no",
            "returning": "yes" if rng.random() < (0.45 if loyal else 0.1) else "no",
            "loyalty": row["loyalty"],
            "device": row["device"],
            "newsletter": row["newsletter"],
        }
        fit = age_effect + region_effect + source_effect + 0.1 * newsletter + 0.7 * loyal
        fit += -0.2 * mobile - 1.2 * invalid - 0.4 * (facts["bargain"] == "yes")
        fit += rng.gauss(0, 0.6)
        created = rng.randint(0, SPAN - 14 * DAY)
        row["created_at"] = _stamp(created)
        lead = _Lead(row["external_id"], row, created, fit, fit + rng.gauss(0, 0.8))
        decided = created + int((3 + rng.gammavariate(1.5, 18.0)) * DAY)
        lead.decided = decided if decided < END_SECONDS - DAY else None
        _b2c_behaviour(rng, lead, facts, not (invalid or unsubscribed))
        lead.before.sort(key=lambda a: a[0])
        leads.append(lead)
        every_facts.append(facts)
    decided_leads = [i for i, lead in enumerate(leads) if lead.decided is not None]
    logits = [_b2c_logit(rng, leads[i], every_facts[i]) for i in decided_leads]
    converted = _decide(rng, logits, BASE_RATE["b2c"])
    for i, bought in zip(decided_leads, converted, strict=True):
        lead = leads[i]
        lead.outcome = "converted" if bought else "lost"
        if bought:
            lead.value = f"{math.exp(rng.gauss(math.log(45), 0.7)):.2f}"
        _b2c_aftermath(rng, lead, every_facts[i]["favourite"])
    return _World([], leads, B2C_LEAD_FIELDS, B2C_ACTIVITY_FIELDS, _model_yaml(B2C_MODEL))


# --- the marketers' models -----------------------------------------------------------------------


def _attribute(name: str, path: str, op: str, value: object, points: float) -> dict[str, object]:
    return {"name": name, "type": "attribute", "field": path, "op": op, "value": value,
            "points": points}  # fmt: skip


def _activity(name: str, kinds: list[str], points: float, **keys: object) -> dict[str, object]:
    return {"name": name, "type": "activity", "kinds": kinds, "points": points, **keys}


def _url(op: str, value: str) -> list[dict[str, str]]:
    return [{"field": "url", "op": op, "value": value}]


def _model_yaml(model: Mapping[str, object]) -> str:
    comment = (
        "# A hand-made model for the learning benchmark's world, as marketers write them: some\n"
    )
    comment += (
        "# rules are right, some say nothing, some have the wrong sign, weight or look-back.\n"
    )
    return comment + yaml.safe_dump(
        dict(model), sort_keys=False, allow_unicode=True, default_flow_style=None, width=4096
    )


B2B_MODEL: dict[str, object] = {
    "slug": "bench-b2b",
    "name": "Benchmark B2B",
    "description": "Hand-made rules for companies evaluating our software.",
    "mql_threshold": 100,
    "bands": [
        {"label": "cold", "min": 0},
        {"label": "warm", "min": 50},
        {"label": "hot", "min": 100},
    ],  # fmt: skip
    "grades": [
        {"label": "D", "min": 0},
        {"label": "C", "min": 20},
        {"label": "B", "min": 50},
        {"label": "A", "min": 100},
    ],  # fmt: skip
    "audience": [
        {"field": "account.name", "op": "is_set"},
        {"field": "lead.lifecycle_stage", "op": "not_in", "value": ["customer", "disqualified"]},
    ],
    "criteria": [
        _attribute("Target account", "account.is_target_account", "equals", True, 20),
        # The sweet spot is 200 to 5,000 people; small companies rarely buy.
        _attribute(
            "Mid-sized company (100-200 employees)",
            "account.employee_count",
            "between",
            [100, 200],
            100,
        ),  # fmt: skip
        _attribute("Small company (under 20 employees)", "account.employee_count", "lte", 19, 10),
        _attribute("Enterprise (5000+ employees)", "account.employee_count", "gte", 5000, 30),
        _attribute("Software company", "account.industry", "equals", "software", 15),
        _attribute("Public sector", "account.industry", "equals", "public sector", 10),
        _attribute("Uses Salesforce", "account.attributes.crm_system", "equals", "salesforce", 25),
        _attribute("Decision maker", "lead.seniority", "in", ["executive", "director"], 15),
        _attribute("IT department", "lead.attributes.department", "equals", "it", 10),
        _attribute("Student", "lead.job_title", "icontains", "student", -30),
        _attribute("Competitor", "account.is_competitor", "equals", True, -100),
        _attribute("E-mail bounced", "lead.email_invalid", "equals", True, -50),
        _attribute("Unsubscribed", "lead.unsubscribed", "equals", True, -20),
        _activity("Visit", ["page_view"], 1, count="each", cap=30, window_days=90),
        _activity(
            "Pricing page",
            ["page_view"],
            10,
            where=_url("starts_with", "/pricing"),
            count="once",
            window_days=30,
        ),  # fmt: skip
        _activity("Blog reader", ["page_view"], 2, where=_url("starts_with", "/blog"), cap=20),
        _activity("Jobs page", ["page_view"], -10, where=_url("contains", "/jobs"), count="once"),
        _activity("Newsletter signup", ["newsletter_signup"], 20, count="once"),
        _activity("Newsletter opened", ["email_open"], 5, cap=25),
        _activity("Newsletter click", ["email_click"], 5, cap=15),
        _activity("Content download", ["content_download"], 10, cap=30, half_life_days=60),
        _activity("Webinar", ["webinar_attended"], 50, count="once", half_life_days=90),
        _activity("Demo request", ["demo_request"], 100, count="once"),
        {
            "name": "Busy week",
            "type": "frequency",
            "kinds": ["page_view"],
            "at_least": 4,
            "within_days": 7,
            "window_days": 30,
            "points": 15,
        },  # fmt: skip
        {"name": "Gone quiet", "type": "inactivity", "days": 90, "points": -20},
    ],
}

B2C_MODEL: dict[str, object] = {
    "slug": "bench-b2c",
    "name": "Benchmark B2C (stars)",
    "description": "Hand-made rules for consumers of our art-supply shop.",
    "mql_threshold": 50,
    "bands": [
        {"label": f"{n} star{'s' if n > 1 else ''}", "min": 15 * (n - 1)} for n in range(1, 6)
    ],  # fmt: skip
    "audience": [{"field": "account.name", "op": "is_not_set"}],
    "criteria": [
        _attribute("Newsletter subscriber", "lead.attributes.newsletter", "equals", "yes", 3),
        {
            "name": "Shared interests",
            "type": "attribute",
            "field": "lead.attributes.interest",
            "op": "is_set",
            "points": 5,
        },  # fmt: skip
        {
            "name": "Shared birthday",
            "type": "attribute",
            "field": "lead.birthday",
            "op": "is_set",
            "points": 10,
        },  # fmt: skip
        _attribute("Young adult", "lead.attributes.age_band", "equals", "18-24", 10),
        _attribute("Loyalty card", "lead.attributes.loyalty", "equals", "yes", 5),
        _attribute("Unsubscribed", "lead.unsubscribed", "equals", True, -20),
        _activity("Newsletter opened", ["email_open"], 5, count="once"),
        _activity("Newsletter click", ["email_click"], 5, cap=15),
        _activity("Browsing day", ["product_view"], 5, count="per_day", cap=25),
        # Never expires: a cart from four months ago counts as much as today's.
        _activity("Cart add", ["cart_add"], 10, count="per_day", cap=30),
        _activity("Earlier purchase", ["purchase"], 15, count="once"),
        _activity("Sale page", ["page_view"], 10, where=_url("starts_with", "/sale"), count="once"),
        _activity("Store locator", ["store_locator"], 20, count="once"),
        _activity("Jobs page", ["page_view"], -10, where=_url("contains", "/jobs"), count="once"),
        {"name": "Gone quiet", "type": "inactivity", "days": 120, "points": -15},
    ],
}
