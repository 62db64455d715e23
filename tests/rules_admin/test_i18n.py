"""German and Dutch: complete translations, a language switcher, locale-aware numbers."""

import re
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import translation

from rules_admin.describe import criterion_sentence, points_text

LOCALE = Path(__file__).resolve().parents[2] / "locale"


@pytest.mark.parametrize("language", ["de", "nl"])
def test_every_rule_editor_string_is_translated(language):
    po = (LOCALE / language / "LC_MESSAGES" / "django.po").read_text()
    untranslated = []
    for entry in po.split("\n\n")[1:]:
        if "rules_admin" not in entry:
            continue
        # A long translation is wrapped: msgstr "" followed by "..." continuation lines.
        strings = [
            "".join(re.findall(r'"(.*)"', block))
            for block in re.findall(r'^msgstr(?:\[\d\])? (".*"(?:\n".*")*)', entry, flags=re.M)
        ]
        if "#, fuzzy" in entry or not all(strings):
            untranslated.append(entry)
    assert untranslated == []
    assert (LOCALE / language / "LC_MESSAGES" / "django.mo").exists()


def test_numbers_and_sentences_follow_the_language():
    item = {"name": "Big", "type": "activity", "kinds": ["page_view"], "points": 1000}
    with translation.override("de"):
        assert points_text(1000) == "+1.000"
        assert criterion_sentence(item) == "+1.000 für jedes page_view"
    with translation.override("nl"):
        assert points_text(-2.5) == "-2,5"
    with translation.override("en"):
        assert points_text(1000) == "+1,000"


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "+100 when the company's employees is at least 200"),
        ("de", "+100, wenn Mitarbeitende des Unternehmens mindestens 200 ist"),
        ("nl", "+100 als medewerkers van het bedrijf minstens 200 is"),
    ],
)
def test_a_condition_reads_as_a_clause_of_the_language(language, expected):
    # German and Dutch put the verb of a "when" clause last.
    item = {"type": "attribute", "field": "account.employee_count", "op": "gte", "value": 200,
            "points": 100}  # fmt: skip
    with translation.override(language):
        assert criterion_sentence(item) == expected


def test_an_activity_condition_and_inactivity_read_naturally_in_german():
    pricing = {"type": "activity", "kinds": ["page_view"], "points": 10, "count": "once",
               "where": [{"field": "url", "op": "starts_with", "value": "/pricing"}]}  # fmt: skip
    quiet = {"type": "inactivity", "days": 90, "points": -20}
    with translation.override("de"):
        assert criterion_sentence(pricing) == (
            "+10 einmalig für page_view wobei url mit “/pricing” beginnt"
        )
        assert criterion_sentence(quiet) == "-20, wenn 90 Tage lang keine Aktivität stattfand"
    with translation.override("en"):
        assert criterion_sentence(quiet) == "-20 when there was no activity for 90 days"


@pytest.mark.django_db
def test_the_language_switcher_turns_the_editor_german(client, marketing_user, published):
    client.force_login(marketing_user)
    page = client.get(reverse("rules_admin:list")).content.decode()
    assert 'action="/i18n/setlang/"' in page and ">Deutsch</option>" in page
    client.post("/i18n/setlang/", {"language": "de", "next": "/rules/"})
    page = client.get(reverse("rules_admin:list")).content.decode()
    assert "<h1>Scoring-Regeln</h1>" in page
    page = client.get(reverse("rules_admin:model", args=[published.slug])).content.decode()
    assert "+20, wenn das Unternehmen auf der Zielkundenliste steht" in page
    client.post("/i18n/setlang/", {"language": "nl", "next": "/rules/"})
    assert "<h1>Scoreregels</h1>" in client.get(reverse("rules_admin:list")).content.decode()
