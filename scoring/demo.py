"""Deterministic demo data: German/Dutch accounts, B2B leads, B2C consumers, activities, users.

`build_demo_data` derives everything from `random.Random(seed)` and `now` without touching the
database; `seed_demo` then writes only what is missing (keyed by external ids), in batches, inside
one transaction, so running it again creates nothing and changes nothing.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Manager, Model, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from scoring import roles
from scoring.demo_outcomes import OutcomeSpec, decide_outcomes
from scoring.models import Account, Activity, Lead, LeadOutcome, LifecycleStage

SOURCE = "demo"  # Activity.source of everything generated here
BATCH = 500
DAYS = 120  # activities span the last DAYS days before `now`
N_ACCOUNTS, N_B2B, N_B2C = 60, 200, 100
USER_EMAIL_DOMAIN = "demo.example"

# (role, username, password): printed by `manage.py seed_demo`.
DEMO_LOGINS: list[tuple[str, str, str]] = [
    (roles.MARKETING, "marketing", "demo-marketing"),
    (roles.SALES, "sales", "demo-sales"),
    (roles.SALES, "sales2", "demo-sales"),
    (roles.ADMIN, "admin", "demo-admin"),
]
SALES_USERS = ("sales", "sales2")

# --- Data tables ------------------------------------------------------------------------------
# fmt: off
_USER_NAMES = {"marketing": ("Miriam", "Krause"), "sales": ("Jan", "de Vries"),
               "sales2": ("Sabine", "Lehmann"), "admin": ("Andreas", "Vogel")}
# country: (weight, language, TLD, phone prefix, legal forms)
_COUNTRIES = {
    "DE": (45, "de", "de", "+49", ("GmbH", "GmbH", "KG", "AG", "GmbH & Co. KG")),
    "NL": (25, "nl", "nl", "+31", ("B.V.", "B.V.", "N.V.")),
    "AT": (12, "de", "at", "+43", ("GmbH", "KG")),
    "BE": (9, "nl", "be", "+32", ("BV", "NV")),
    "CH": (9, "de", "ch", "+41", ("AG", "GmbH")),
}
_SURNAMES = {
    "de": "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Schulz Koch Richter "
    "Klein Wolf Neumann Schwarz Zimmermann Braun Krüger Hartmann Lange Werner Krause Köhler Vogel "
    "Huber Bauer Gruber Keller Frei".split(),
    "nl": "van der Berg|de Vries|Jansen|Bakker|Visser|Smit|Meijer|de Boer|Mulder|de Groot|Bos|Vos|"
    "Peters|Hendriks|van Dijk|Dekker|van Leeuwen|Brouwer|Claes|Peeters|Maes|Janssens".split("|"),
}
_FIRST = {
    "de": "Anna Lena Julia Sarah Laura Katharina Sabine Petra Claudia Stefanie Nina Johanna Jonas "
    "Lukas Felix Maximilian Thomas Michael Andreas Stefan Markus Tobias Florian Matthias".split(),
    "nl": "Sanne Lotte Femke Anouk Eva Lisa Marloes Inge Emma Fleur Daan Sem Bram Lucas Thijs "
    "Jeroen Pieter Bas Ruben Joost Wouter Koen Niels Sander".split(),
}
_TRADES = [  # (German word, Dutch word, industry)
    ("Maschinenbau", "Machinebouw", "manufacturing"), ("Logistik", "Logistiek", "logistics"),
    ("Schreibwaren", "Kantoorartikelen", "retail"), ("Druckerei", "Drukkerij", "printing"),
    ("Verpackungen", "Verpakkingen", "packaging"), ("IT-Systeme", "ICT", "software"),
    ("Elektrotechnik", "Elektrotechniek", "electrical"), ("Bau", "Bouw", "construction"),
    ("Steuerberatung", "Accountancy", "professional_services"),
    ("Medizintechnik", "Medische Techniek", "healthcare"),
    ("Immobilien", "Vastgoed", "real_estate"), ("Versicherungsmakler", "Assurantiën", "insurance"),
]
_FIXED_ACCOUNTS = [  # (name, country, industry, employees, target account, competitor)
    ("Müller Maschinenbau GmbH", "DE", "manufacturing", 160, True, False),
    ("Van der Berg Logistiek B.V.", "NL", "logistics", 140, True, False),
    ("Schreibwaren Schmidt KG", "DE", "retail", 14, False, False),
    ("Bürobedarf Direkt24 GmbH", "DE", "wholesale", 240, False, True),
    ("Kantoorvak Nederland B.V.", "NL", "wholesale", 180, False, True),
    ("Papeterie Helvetia AG", "CH", "wholesale", 95, False, True),
]
# employee range: (weight, probability of being a target account)
_EMPLOYEES = {(10, 20): (16, 0.0), (21, 99): (22, 0.05), (100, 200): (32, 0.4),
              (201, 1000): (19, 0.25), (1001, 5000): (11, 0.1)}
_TITLES = [  # (German title, Dutch title, seniority, weight)
    ("Geschäftsführung", "Algemeen directeur", "executive", 4),
    ("Leitung Marketing", "Hoofd marketing", "director", 5),
    ("Leitung Einkauf", "Hoofd inkoop", "director", 5),
    ("Leitung Vertrieb", "Salesdirecteur", "director", 3),
    ("IT-Leitung", "IT-manager", "director", 2),
    ("Marketing Manager", "Marketingmanager", "manager", 7),
    ("Projektmanager", "Projectmanager", "manager", 5),
    ("Office Manager", "Officemanager", "manager", 6),
    ("Einkäufer", "Inkoper", "professional", 7),
    ("Online-Marketing-Referent", "Online marketeer", "professional", 5),
    ("Vertriebsmitarbeiter", "Accountmanager", "professional", 4),
    ("Assistenz der Geschäftsführung", "Directiesecretaresse", "professional", 3),
    ("Werkstudent Marketing", "Werkstudent marketing", "student", 0.8),
    ("Student", "Student", "student", 0.7),
]
_B2B_SOURCES = {"website": 30, "linkedin": 18, "webinar": 15, "trade_fair": 12, "newsletter": 10,
                "partner": 8}
_B2C_SOURCES = {"newsletter": 45, "website": 40, "store": 10, "partner": 5}
_MAIL = {"DE": ["gmx.de", "web.de", "t-online.de", "gmail.com", "posteo.de"],
         "NL": ["ziggo.nl", "kpnmail.nl", "gmail.com", "hotmail.nl", "outlook.com"],
         "AT": ["gmx.at", "aon.at", "gmail.com"], "BE": ["telenet.be", "skynet.be", "gmail.com"],
         "CH": ["bluewin.ch", "gmx.ch", "gmail.com"]}
_CITIES = {"DE": ["Berlin", "Hamburg", "Köln", "München", "Leipzig", "Münster"],
           "NL": ["Amsterdam", "Utrecht", "Rotterdam", "Groningen", "Eindhoven"],
           "AT": ["Wien", "Graz", "Linz"], "BE": ["Antwerpen", "Gent", "Leuven"],
           "CH": ["Zürich", "Basel", "Bern"]}
_PRICING = ("/pricing", "Preise & Rahmenverträge")
_B2B_PAGES = [
    _PRICING, ("/products/paper/a4", "Kopierpapier A4"),
    ("/products/office/bulk", "Büromaterial für Unternehmen"),
    ("/solutions/procurement", "Beschaffung per Rahmenvertrag"),
    ("/case-studies/van-der-berg-logistiek", "Case Study: Van der Berg Logistiek"),
    ("/blog/nachhaltige-beschaffung", "Nachhaltige Beschaffung im Büro"),
    ("/blog/papierverbrauch-senken", "Papierverbrauch senken"), ("/webinars", "Webinare"),
    ("/contact", "Kontakt"),
]
_B2C_PAGES = {  # by interest; None: for everyone
    "paper": [("/products/paper/a4", "Kopierpapier A4"), ("/products/paper/notebooks", "Hefte")],
    "paint": [("/products/paint/acrylic", "Acryl"), ("/products/paint/watercolor", "Aquarell")],
    "canvas": [("/products/canvas/30x40", "Keilrahmen"), ("/products/canvas/rolls", "Rollen")],
    None: [("/sale", "Angebote"), ("/blog/aquarell-fuer-anfaenger", "Aquarell für Anfänger")],
}
_JOB_PAGES = [("/jobs/werkstudent", "Werkstudent (m/w/d) Marketing"), ("/jobs", "Karriere")]
_PRODUCTS = {
    "paper": ["Kopierpapier A4 80 g (500 Blatt)", "Notizbuch A5 dotted", "Briefpapier Bütten"],
    "paint": ["Acrylfarben-Set 12×22 ml", "Aquarellkasten 24 Näpfchen", "Pinselset Synthetik"],
    "canvas": ["Keilrahmen 30×40 cm", "Malkarton 24×30 cm (5er)", "Leinwand auf Rolle 1,5 m"],
}
_CAMPAIGNS = ["newsletter-weekly", "spring-sale", "back-to-school", "webinar-invite", "update"]
_ASSETS = {"b2b": ["Whitepaper Nachhaltige Beschaffung", "Produktkatalog", "Datenblatt Recycling"],
           "b2c": ["Gutschein 10 %", "Malvorlagen-Set", "Farbkarte Acryl"]}
_WEBINARS = ["Digitale Beschaffung im Mittelstand", "Nachhaltig drucken", "Inkoop slim organiseren"]
_EVENTS = {"b2b": ["Paperworld Frankfurt", "Facilitair Utrecht"], "b2c": ["Malworkshop Köln"]}
# How often each kind of activity occurs, (B2B weight, B2C weight): mostly visits and e-mail, a
# demo or trial request about one in a hundred; webinar_attended follows some registrations
# (WEBINAR_ATTENDANCE of them).
ACTIVITY_MIX = {"page_view": (46, 44), "email_open": (14, 18), "email_click": (6, 8),
          "newsletter_signup": (1, 2), "content_download": (6, 3), "webinar_registered": (3, 0),
          "event_attended": (1.5, 0.5), "form_submit": (2, 2), "live_chat": (1.5, 1),
          "demo_request": (0.6, 0), "trial_signup": (0.5, 0), "cart_add": (0, 8),
          "store_locator": (0, 3)}
WEBINAR_ATTENDANCE = 0.6
# profile: (activity count range, weight for ordinary leads, weight for target-account leads)
_PROFILES: dict[str, tuple[tuple[int, int], int, int]] = {
    "hot": ((40, 90), 5, 15), "engaged": ((14, 32), 15, 30), "casual": ((4, 12), 33, 35),
    "light": ((0, 5), 47, 20)}
_B2B_STAGES = {LifecycleStage.LEAD: 82, LifecycleStage.SUBSCRIBER: 12, LifecycleStage.CUSTOMER: 6}
_B2C_STAGES = {LifecycleStage.SUBSCRIBER: 52, LifecycleStage.LEAD: 42, LifecycleStage.CUSTOMER: 6}
_SEGMENTS = [(49, "small-business"), (500, "mid-market"), (10**9, "enterprise")]
# Personas from the seed articles: Tanja (B2C, paper then painting supplies), a target-account buyer
# with ten visits in four weeks plus a webinar, and a working student who reads the jobs pages.
_PERSONAS: list[dict[str, Any]] = [  # keyword arguments of LeadSpec
    dict(email="tanja.berger@gmx.de", first_name="Tanja", last_name="Berger", country="DE",
         source="newsletter", birthday=date(1988, 5, 14), lifecycle_stage=LifecycleStage.SUBSCRIBER,
         attributes={"interest": "paint", "city": "Köln"}, script="tanja"),
    dict(email="sanne.devries@van-der-berg-logistiek.nl", first_name="Sanne", last_name="de Vries",
         country="NL", account="A-002", job_title="Hoofd inkoop", seniority="director",
         source="webinar", owner="sales", phone="+31 30 2345678", script="buyer"),
    dict(email="lukas.werner@mueller-maschinenbau.de", first_name="Lukas", last_name="Werner",
         country="DE", account="A-001", job_title="Werkstudent Marketing", seniority="student",
         source="website", script="student"),
]
# Scripted journeys: (days ago, kind, properties; None: generated)
_SCRIPTS: dict[str, list[tuple[int, str, Mapping[str, object] | None]]] = {
    "tanja": [(21, "page_view", {"url": "/products/paper/a4", "title": "Kopierpapier A4"}),
              (20, "newsletter_signup", {"list": "newsletter-de"}),
              (18, "email_open", {"campaign": "newsletter-weekly"}),
              (18, "email_click", {"campaign": "newsletter-weekly", "url": "/products/paint"}),
              (18, "form_submit", {"form": "profile", "interest": "paint", "birthday": True}),
              (15, "page_view", {"url": "/products/paint/acrylic", "title": "Acrylfarben"}),
              (14, "page_view", {"url": "/products/paint/watercolor", "title": "Aquarell"}),
              (13, "store_locator", {"query": "Köln"})],
    "buyer": [(d, "page_view", None) for d in (27, 25, 22, 19, 16, 12, 9, 6, 4, 2)]
    + [(14, "webinar_registered", {"webinar": _WEBINARS[0]}),
       (10, "webinar_attended", {"webinar": _WEBINARS[0]}),
       (2, "page_view", {"url": _PRICING[0], "title": _PRICING[1]}),
       (1, "demo_request", {"form": "demo-request", "product": "Rahmenvertrag Büromaterial"})],
    "student": [(d, "page_view", {"url": _JOB_PAGES[0][0], "title": _JOB_PAGES[0][1]})
                for d in (40, 33, 8)] + [(8, "content_download", None)],
}
# fmt: on


# --- Generation (pure: no database access) ----------------------------------------------------
@dataclass
class LeadSpec:
    external_id: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    country: str = ""
    account: str | None = None  # account external id; None for B2C consumers
    job_title: str = ""
    seniority: str = ""
    phone: str = ""
    birthday: date | None = None
    source: str = ""
    lifecycle_stage: str = LifecycleStage.LEAD
    owner: str | None = None  # username
    unsubscribed: bool = False
    email_invalid: bool = False
    attributes: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    script: str | None = None  # key of _SCRIPTS for the personas

    def lead_fields(self) -> dict[str, Any]:
        """Lead model field values, except the foreign keys and created_at."""
        values = asdict(self)
        for key in ("account", "owner", "created_at", "script"):
            del values[key]
        return values


# One activity: (lead external id, kind, occurred at, channel, properties)
ActivitySpec = tuple[str, str, datetime, str, Mapping[str, object]]


@dataclass
class DemoData:
    accounts: list[dict[str, Any]]  # Account field values
    leads: list[LeadSpec]
    activities: list[ActivitySpec]  # in external-id order: the n-th is "demo-<n>"
    outcomes: list[OutcomeSpec] = field(default_factory=list)


def _slug(text: str) -> str:
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.lower().replace(a, b)
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_).strip("-")


_K = TypeVar("_K")


def _pick(rng: random.Random, weights: Mapping[_K, float]) -> _K:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


_COUNTRY_WEIGHTS = {c: v[0] for c, v in _COUNTRIES.items()}
_SIZE_WEIGHTS = {size: weight for size, (weight, _) in _EMPLOYEES.items()}


def _accounts(rng: random.Random) -> list[dict[str, Any]]:
    rows = [
        (name, name.rsplit(" ", 1)[0], country, industry, employees, target, competitor)
        for name, country, industry, employees, target, competitor in _FIXED_ACCOUNTS
    ]
    bases = {row[1] for row in rows}
    while len(rows) < N_ACCOUNTS:
        country = _pick(rng, _COUNTRY_WEIGHTS)
        _, lang, _, _, forms = _COUNTRIES[country]
        de_word, nl_word, industry = rng.choice(_TRADES)
        surname, trade = rng.choice(_SURNAMES[lang]), de_word if lang == "de" else nl_word
        surname = surname[0].upper() + surname[1:]
        base = f"{surname} {trade}" if rng.random() < 0.6 else f"{trade} {surname}"
        if base not in bases:
            bases.add(base)
            size = _pick(rng, _SIZE_WEIGHTS)
            target = rng.random() < _EMPLOYEES[size][1]
            name = f"{base} {rng.choice(forms)}"
            rows.append((name, base, country, industry, rng.randint(*size), target, False))
    return [
        dict(
            external_id=f"A-{i:03d}",
            name=name,
            domain=f"{_slug(base)}.{_COUNTRIES[country][2]}",
            industry=industry,
            employee_count=employees,
            annual_revenue=Decimal(int(round(employees * rng.uniform(80_000, 220_000), -3))),
            country=country,
            is_target_account=target,
            is_competitor=competitor,
            attributes={"segment": next(s for top, s in _SEGMENTS if employees <= top)},
        )
        for i, (name, base, country, industry, employees, target, competitor) in enumerate(rows, 1)
    ]


def _person(rng: random.Random, country: str, domain: str, taken: set[str], b2c: bool) -> LeadSpec:
    lang = _COUNTRIES[country][1]
    first, last = rng.choice(_FIRST[lang]), rng.choice(_SURNAMES[lang])
    f, s = _slug(first).replace("-", ""), _slug(last).replace("-", "")
    if b2c:
        local = rng.choice(
            [f"{f}.{s}", f"{f}{s}{rng.randint(1, 99)}", f"{f[0]}{s}{rng.randint(60, 99)}"]
        )
    else:
        local = rng.choice([f"{f}.{s}", f"{f}.{s}", f"{f[0]}.{s}", f"{f}{s[0]}"])
    email, n = f"{local}@{domain}", 1
    while email in taken:
        n += 1
        email = f"{local}{n}@{domain}"
    taken.add(email)
    unsubscribed, invalid = rng.random() < 0.04, rng.random() < 0.03
    return LeadSpec(
        "", email, first, last, country, unsubscribed=unsubscribed, email_invalid=invalid
    )


def _leads(rng: random.Random, accounts: list[dict[str, Any]]) -> list[LeadSpec]:
    leads = [LeadSpec(**persona) for persona in _PERSONAS]
    taken = {lead.email for lead in leads}
    weights = [0.3 if a["is_competitor"] else 4 if a["is_target_account"] else
               1 + (a["employee_count"] > 20) for a in accounts]  # fmt: skip
    for account in rng.choices(accounts, weights=weights, k=N_B2B - 2):
        country = account["country"]
        lead = _person(rng, country, account["domain"], taken, b2c=False)
        lead.account = account["external_id"]
        de_title, nl_title, lead.seniority, _ = rng.choices(_TITLES, [t[3] for t in _TITLES])[0]
        lead.job_title = de_title if _COUNTRIES[country][1] == "de" else nl_title
        lead.source, lead.lifecycle_stage = _pick(rng, _B2B_SOURCES), _pick(rng, _B2B_STAGES)
        lead.phone = _phone(rng, country) if rng.random() < 0.45 else ""
        owned = rng.random() < (0.5 if account["is_target_account"] else 0.1)
        if owned or lead.lifecycle_stage == LifecycleStage.CUSTOMER:
            lead.owner = rng.choice(SALES_USERS)
        leads.append(lead)
    for _ in range(N_B2C - 1):
        country = _pick(rng, _COUNTRY_WEIGHTS)
        lead = _person(rng, country, rng.choice(_MAIL[country]), taken, b2c=True)
        lead.source, lead.lifecycle_stage = _pick(rng, _B2C_SOURCES), _pick(rng, _B2C_STAGES)
        lead.attributes = {"city": rng.choice(_CITIES[country])}
        if rng.random() < 0.6:
            lead.attributes["interest"] = rng.choice(list(_PRODUCTS))
        if rng.random() < 0.45:
            lead.birthday = date(rng.randint(1955, 2005), rng.randint(1, 12), rng.randint(1, 28))
        leads.append(lead)
    rng.shuffle(leads)
    for i, lead in enumerate(leads, 1):
        lead.external_id = f"L-{i:04d}"
    return leads


def _phone(rng: random.Random, country: str) -> str:
    return f"{_COUNTRIES[country][3]} {rng.randint(20, 99)} {rng.randint(1_000_000, 9_999_999)}"


def _props(rng: random.Random, kind: str, lead: LeadSpec) -> tuple[str, dict[str, object]]:
    """(channel, properties) of a generated activity of `kind` by `lead`."""
    b2c, interest = lead.account is None, lead.attributes.get("interest")
    category, segment = interest or rng.choice(list(_PRODUCTS)), "b2c" if b2c else "b2b"
    match kind:
        case "page_view":
            if lead.seniority == "student" and rng.random() < 0.5:
                url, title = rng.choice(_JOB_PAGES)
            elif b2c:
                pages = _B2C_PAGES[interest if rng.random() < 0.7 else rng.choice(list(_B2C_PAGES))]
                url, title = rng.choice(pages)
            else:
                url, title = _PRICING if rng.random() < 0.12 else rng.choice(_B2B_PAGES)
            return "web", {"url": url, "title": title}
        case "email_open":
            return "email", {"campaign": rng.choice(_CAMPAIGNS)}
        case "email_click":
            url = f"/products/{category}" if b2c else rng.choice(_B2B_PAGES)[0]
            return "email", {"campaign": rng.choice(_CAMPAIGNS), "url": url}
        case "content_download":
            product, asset = rng.choice(_PRODUCTS[category]), rng.choice(_ASSETS[segment])
            return "web", {"product": product, "asset": asset, "campaign": rng.choice(_CAMPAIGNS)}
        case "webinar_registered" | "webinar_attended":
            return "event", {"webinar": rng.choice(_WEBINARS)}
        case "event_attended":
            return "event", {"event": rng.choice(_EVENTS[segment])}
        case "live_chat":
            return "chat", {"topic": rng.choice(["Lieferzeit", "Preise", "Muster", "Rechnung"])}
        case "cart_add":
            product = rng.choice(_PRODUCTS[category])
            return "web", {"product": product, "quantity": rng.randint(1, 3)}
        case "store_locator":
            return "web", {"query": lead.attributes.get("city", "")}
        case "newsletter_signup":
            return "web", {"list": f"newsletter-{_COUNTRIES[lead.country][1]}"}
        case "form_submit":
            return "web", {"form": rng.choice(["contact", "profile", "callback"])}
    return "web", {"form": kind.replace("_", "-"), "product": rng.choice(_PRODUCTS[category])}


def _day(rng: random.Random, now: datetime, days_ago: int) -> datetime:
    """A moment in the waking hours of the day `days_ago` days before `now`, never after `now`."""
    when = now - timedelta(days=days_ago)
    when = when.replace(hour=rng.randint(6, 20), minute=rng.randint(0, 59))
    return when - timedelta(days=1) if when > now else when


def _activities(
    rng: random.Random, lead: LeadSpec, now: datetime, targets: set[str]
) -> list[ActivitySpec]:
    out: list[ActivitySpec] = []

    def add(when: datetime, kind: str, props: Mapping[str, object] | None = None) -> None:
        channel, generated = _props(rng, kind, lead)
        out.append((lead.external_id, kind, when, channel, props or generated))

    if lead.script:
        for days, kind, props in _SCRIPTS[lead.script]:
            add(_day(rng, now, days), kind, props)
        return out
    b2c = lead.account is None
    column: Literal[1, 2] = 2 if lead.account in targets else 1
    profile = rng.choices(list(_PROFILES), [p[column] for p in _PROFILES.values()])[0]
    quiet = profile in ("light", "casual") and rng.random() < 0.3  # nothing for 90+ days
    kind_weights = {kind: weights[b2c] for kind, weights in ACTIVITY_MIX.items()}
    for _ in range(rng.randint(*_PROFILES[profile][0])):
        days_ago, kind = rng.randint(91 if quiet else 0, DAYS - 1), _pick(rng, kind_weights)
        add(_day(rng, now, days_ago), kind)
        if kind == "webinar_registered" and days_ago >= 3 and rng.random() < WEBINAR_ATTENDANCE:
            add(_day(rng, now, rng.randint(1, days_ago - 2)), "webinar_attended", out[-1][4])
    if profile == "hot" or (profile == "engaged" and rng.random() < 0.4):
        # A burst: several visits within a week (recent for hot leads).
        start = rng.randint(7, 25) if profile == "hot" else rng.randint(7, 110)
        for _ in range(rng.randint(4, 8)):
            add(_day(rng, now, start - rng.randint(0, 6)), "page_view")
        if profile == "hot" and rng.random() < 0.6:
            finale = "cart_add" if b2c else rng.choice(["demo_request", "trial_signup"])
            add(_day(rng, now, start - 6), finale)
    return out


def build_demo_data(*, now: datetime, seed: int = 42) -> DemoData:
    """The whole demo data set, derived only from `seed` and `now` (no database access)."""
    rng = random.Random(seed)
    now = now.replace(microsecond=0)
    accounts = _accounts(rng)
    leads = _leads(rng, accounts)
    targets = {a["external_id"] for a in accounts if a["is_target_account"]}
    activities = []
    for lead in leads:
        own = sorted(_activities(rng, lead, now, targets), key=lambda a: a[2])
        activities.extend(own)
        first_seen = own[0][2] if own else _day(rng, now, rng.randint(1, DAYS))
        before = timedelta(days=rng.randint(0, 60), minutes=rng.randint(1, 600))
        lead.created_at = first_seen - before
    outcomes = decide_outcomes(leads, activities, targets, now, seed)
    return DemoData(accounts, leads, activities, outcomes)


# --- Writing (set-based, idempotent) ----------------------------------------------------------
@dataclass(frozen=True)
class DemoSummary:
    """Rows per kind ("users", "accounts", "leads", "activities"): created now / already there.

    "Already there" means same external id (leads: or same e-mail, case-insensitively).
    """

    created: dict[str, int]
    existing: dict[str, int]

    @property
    def total_created(self) -> int:
        return sum(self.created.values())


def _lookup(
    queryset: QuerySet[Model] | Manager[Model], key: str, values: list[str]
) -> dict[str, int]:
    """{key: pk} for rows of `queryset` whose `key` is in `values`, in short IN lists."""
    found: dict[str, int] = {}
    for i in range(0, len(values), BATCH):
        chunk = values[i : i + BATCH]
        found.update(queryset.filter(**{f"{key}__in": chunk}).values_list(key, "pk"))
    return found


def _ensure_users() -> tuple[int, dict[str, int]]:
    """Create the missing demo users (existing ones keep their password); return (created, ids).

    Only the admin is staff: sales and marketing work in the app's own screens, whose checks
    the Django admin would let them get around.
    """
    roles.grant_role_permissions(Group, Permission)  # no change when the migration did it
    groups = {group.name: group for group in Group.objects.all()}
    created, ids = 0, {}
    for role, username, password in DEMO_LOGINS:
        first, last = _USER_NAMES[username]
        admin = role == roles.ADMIN
        user, was_created = get_user_model().objects.get_or_create(
            username=username,
            defaults=dict(first_name=first, last_name=last, email=f"{username}@{USER_EMAIL_DOMAIN}",
                          is_staff=admin, is_superuser=admin),
        )  # fmt: skip
        if was_created:
            user.set_password(password)
            user.save(update_fields=["password"])
            created += 1
        elif (user.is_staff, user.is_superuser) != (admin, admin):
            # A demo database seeded when every demo user was staff.
            user.is_staff = user.is_superuser = admin
            user.save(update_fields=["is_staff", "is_superuser"])
        user.groups.add(groups[role])  # no change when already a member
        ids[username] = user.pk
    return created, ids


def seed_demo(*, now: datetime, seed: int = 42) -> DemoSummary:
    """Create whatever demo users, accounts, leads and activities do not exist yet.

    Activities span the DAYS days before `now` (timezone-aware). Idempotent: rows are matched by
    external id, so a second run (with any `now`) creates nothing and changes nothing.
    """
    if timezone.is_naive(now):
        raise ValueError("seed_demo needs a timezone-aware `now`")
    data = build_demo_data(now=now, seed=seed)
    with transaction.atomic():
        users_created, user_ids = _ensure_users()

        account_ext = [a["external_id"] for a in data.accounts]
        known = _lookup(Account.objects, "external_id", account_ext)
        new_accounts = [Account(**a) for a in data.accounts if a["external_id"] not in known]
        Account.objects.bulk_create(new_accounts, batch_size=BATCH)
        account_ids = _lookup(Account.objects, "external_id", account_ext)

        lead_ext = [lead.external_id for lead in data.leads]
        known = _lookup(Lead.objects, "external_id", lead_ext)
        with_email = Lead.objects.annotate(email_ci=Lower("email"))
        known_emails = _lookup(with_email, "email_ci", [s.email for s in data.leads])
        todo = [s for s in data.leads if s.external_id not in known and s.email not in known_emails]
        new_leads = [
            Lead(**s.lead_fields(),
                 account_id=None if s.account is None else account_ids.get(s.account),
                 owner_id=None if s.owner is None else user_ids.get(s.owner))
            for s in todo
        ]  # fmt: skip
        Lead.objects.bulk_create(new_leads, batch_size=BATCH)
        # created_at is auto_now_add: backdate it to "first seen" (bulk_update skips pre_save).
        for lead, spec in zip(new_leads, todo, strict=True):
            assert spec.created_at is not None  # build_demo_data dates every lead
            lead.created_at = spec.created_at
        Lead.objects.bulk_update([x for x in new_leads if x.pk], ["created_at"], batch_size=BATCH)
        lead_ids = _lookup(Lead.objects, "external_id", lead_ext)

        activity_ext = [f"demo-{n}" for n in range(1, len(data.activities) + 1)]
        demo_activities = Activity.objects.filter(source=SOURCE)
        known_activities = _lookup(demo_activities, "external_id", activity_ext)
        new_activities = [
            Activity(lead_id=lead_ids[lead], kind=kind, occurred_at=when, channel=channel,
                     properties=props, source=SOURCE, external_id=ext)
            for ext, (lead, kind, when, channel, props) in zip(activity_ext, data.activities,
                                                               strict=True)
            if ext not in known_activities and lead in lead_ids
        ]  # fmt: skip
        # ignore_conflicts: a concurrent run inserting the same (source, external_id) is harmless.
        Activity.objects.bulk_create(new_activities, batch_size=BATCH, ignore_conflicts=True)
        # Only for the leads created now: a second run adds none.
        created_ids = {lead.external_id: lead.pk for lead in new_leads if lead.pk}
        new_outcomes = [
            LeadOutcome(lead_id=created_ids[o.lead], outcome=o.outcome, occurred_at=o.occurred_at,
                        value=o.value, source=SOURCE)
            for o in data.outcomes
            if o.lead in created_ids
        ]  # fmt: skip
        LeadOutcome.objects.bulk_create(new_outcomes, batch_size=BATCH, ignore_conflicts=True)

    created = {"users": users_created, "accounts": len(new_accounts), "leads": len(new_leads),
               "activities": len(new_activities), "outcomes": len(new_outcomes)}  # fmt: skip
    totals = {"users": len(DEMO_LOGINS), "accounts": len(data.accounts), "leads": len(data.leads),
              "activities": len(known_activities) + len(new_activities),
              "outcomes": LeadOutcome.objects.filter(source=SOURCE).count()}  # fmt: skip
    return DemoSummary(created, {key: totals[key] - created[key] for key in created})
