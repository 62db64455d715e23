"""Write actions of learning from outcomes: put a suggestion into the draft (never published)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import polars as pl
from django.db import transaction

from scoring.models import ScoringModel
from scoring.services import scoring_model_draft_definition, scoring_model_load

from .suggest import Suggestion, same_share


def _mapped(
    bands: Sequence[dict[str, Any]], now: pl.Series, suggested: pl.Series
) -> list[dict[str, Any]]:
    """Each band's min on the suggested scale, so that each keeps its share of the leads
    (ascending and distinct, as bands must be). The lowest band takes every score below the
    others anyway: it keeps its min unless that would now lie above the next band's."""
    ordered = sorted(bands, key=lambda band: Decimal(str(band["min"])))
    mapped: list[dict[str, Any]] = []
    for band in ordered[1:]:
        low = same_share(now, suggested, Decimal(str(band["min"])))
        if mapped and low <= mapped[-1]["min"]:
            low = mapped[-1]["min"] + 1
        mapped.append({**band, "min": low})
    if ordered:
        lowest = Decimal(str(ordered[0]["min"]))
        if mapped and lowest >= mapped[0]["min"]:
            lowest = Decimal(mapped[0]["min"] - 1)
        mapped.insert(0, {**ordered[0], "min": lowest})
    return mapped


@transaction.atomic
def suggestion_apply(
    *, scoring_model: ScoringModel, suggestion: Suggestion, threshold: int
) -> ScoringModel:
    """The draft with the suggested points (and caps) of the criteria it still has by name, the
    threshold given, and its bands and grades moved to the new scale; DefinitionError when the
    result is invalid, and then nothing changes."""
    scoring_model = ScoringModel.objects.select_for_update().get(pk=scoring_model.pk)
    data = scoring_model_draft_definition(scoring_model=scoring_model)
    by_name = {c.name: c for c in suggestion.criteria}
    criteria = []
    for item in data["criteria"]:
        found = by_name.get(item["name"])
        if found is not None:
            item = {**item, "points": found.suggested}
            if found.half_life_days is not None:
                item["half_life_days"] = found.half_life_days
            if found.suggested_cap is not None:
                item["cap"] = found.suggested_cap
            elif found.cap is not None:
                item.pop("cap", None)  # a criterion now worth nothing needs no cap
        criteria.append(item)
    scores = suggestion.scores
    data.update(
        criteria=criteria,
        mql_threshold=threshold,
        bands=_mapped(data["bands"], scores["total"] / 100, scores["suggested"]),
        grades=_mapped(data.get("grades") or [], scores["fit"] / 100, scores["suggested_fit"]),
    )
    model, _version = scoring_model_load(data=data, publish=False)
    return model
