"""Write actions of the rule editor: edit the draft, publish it, restore versions, proposals.

Every change to the draft is validated as a whole with the same parser that `load_scoring_model`
uses (scoring.definition), so the editor and rules as code accept and refuse exactly the same.
"""

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from scoring.definition import DefinitionError, Problem, dump_model, parse_model, validate_criterion
from scoring.models import Criterion, ScoringModel, ScoringModelVersion
from scoring.services import (
    scoring_model_draft_definition,
    scoring_model_load,
    scoring_model_publish,
)

from .models import Proposal, ProposalComment

_COMMON = ("name", "type", "points", "description", "enabled")
_IN_MODEL = re.compile(r"^criteria\[\d+\](?: \(.*?\))?\.?")
PROPOSAL_ACTIONS = ("add", "change", "remove")


def _bare(problems: Sequence[Problem]) -> list[Problem]:
    """criteria[3] (Jobs page).points -> points: the path as the criterion form knows it."""
    return [Problem(_IN_MODEL.sub("", p.path), p.message) for p in problems]


def _canonical_criteria(
    scoring_model: ScoringModel, criteria: list[dict[str, Any]], **changes: Any
) -> list[dict[str, Any]]:
    """Validate the draft with other criteria (and model fields); the canonical criterion dicts."""
    data = scoring_model_draft_definition(scoring_model=scoring_model)
    data.update(changes, criteria=criteria)
    return list(dump_model(parse_model(data))["criteria"])


def _row_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": item["name"],
        "type": item["type"],
        "points": Decimal(str(item["points"])),
        "description": item.get("description", ""),
        "enabled": item.get("enabled", True),
        "params": {k: v for k, v in item.items() if k not in _COMMON},
    }


def _locked(scoring_model: ScoringModel) -> ScoringModel:
    return ScoringModel.objects.select_for_update().get(pk=scoring_model.pk)


@transaction.atomic
def criterion_save(
    *, scoring_model: ScoringModel, data: Mapping[str, Any], criterion: Criterion | None = None
) -> Criterion:
    """Add a criterion to the draft (at the end) or replace one; DefinitionError lists problems
    with the criterion's own keys as paths ("points", "where[0].op")."""
    problems = validate_criterion(dict(data))
    if problems:
        raise DefinitionError(problems)
    scoring_model = _locked(scoring_model)
    current = scoring_model_draft_definition(scoring_model=scoring_model)["criteria"]
    rows = list(scoring_model.criteria.all())
    index = len(rows) if criterion is None else [r.pk for r in rows].index(criterion.pk)
    criteria = list(current)
    criteria[index : index + 1] = [dict(data)]
    try:
        canonical = _canonical_criteria(scoring_model, criteria)[index]
    except DefinitionError as exc:
        raise DefinitionError(_bare(exc.problems)) from exc
    if criterion is None:
        last = scoring_model.criteria.aggregate(p=Max("position"))["p"]
        criterion = Criterion(scoring_model=scoring_model, position=(last or 0) + 1)
    for key, value in _row_fields(canonical).items():
        setattr(criterion, key, value)
    criterion.save()
    scoring_model.save(update_fields=["updated_at"])
    return criterion


@transaction.atomic
def criterion_delete(*, criterion: Criterion) -> None:
    criterion.delete()
    criterion.scoring_model.save(update_fields=["updated_at"])


def _free_name(scoring_model: ScoringModel, name: str) -> str:
    taken = set(scoring_model.criteria.values_list("name", flat=True))
    for n in range(2, 1000):
        candidate = f"{name} ({n})"[:120]
        if candidate not in taken:
            return candidate
    raise DefinitionError([Problem("name", "no free name for the copy")])


@transaction.atomic
def criterion_duplicate(*, criterion: Criterion) -> Criterion:
    """A disabled copy right below the original, so the draft's scores do not change yet."""
    scoring_model = _locked(criterion.scoring_model)
    scoring_model.criteria.filter(position__gt=criterion.position).update(
        position=F("position") + 1
    )
    copy = Criterion.objects.create(
        scoring_model=scoring_model,
        position=criterion.position + 1,
        name=_free_name(scoring_model, criterion.name),
        type=criterion.type,
        points=criterion.points,
        description=criterion.description,
        enabled=False,
        params=criterion.params,
    )
    return copy


@transaction.atomic
def criterion_move(*, criterion: Criterion, offset: int) -> None:
    """Move a criterion up (-1) or down (+1) in the draft's order (the explanation's order)."""
    scoring_model = _locked(criterion.scoring_model)
    rows = list(scoring_model.criteria.all())
    index = [r.pk for r in rows].index(criterion.pk)
    target = index + offset
    if not 0 <= target < len(rows):
        return
    rows[index], rows[target] = rows[target], rows[index]
    for position, row in enumerate(rows):
        row.position = position
    Criterion.objects.bulk_update(rows, ["position"])


@transaction.atomic
def criterion_toggle(*, criterion: Criterion) -> Criterion:
    criterion.enabled = not criterion.enabled
    criterion.save(update_fields=["enabled"])
    criterion.scoring_model.save(update_fields=["updated_at"])
    return criterion


@transaction.atomic
def thresholds_update(
    *,
    scoring_model: ScoringModel,
    mql_threshold: Decimal,
    bands: list[dict[str, Any]],
    grades: list[dict[str, Any]],
) -> ScoringModel:
    """Set the MQL threshold, bands and grades; DefinitionError (paths mql_threshold, bands[1].min,
    ...) when the draft would be invalid."""
    scoring_model = _locked(scoring_model)
    data = scoring_model_draft_definition(scoring_model=scoring_model)
    data.update(mql_threshold=mql_threshold, bands=bands, grades=grades)
    spec = parse_model(data)
    canonical = dump_model(spec)
    scoring_model.mql_threshold = Decimal(str(spec.mql_threshold))
    scoring_model.bands = canonical["bands"]
    scoring_model.grades = canonical.get("grades", [])
    scoring_model.save(update_fields=["mql_threshold", "bands", "grades", "updated_at"])
    return scoring_model


def draft_publish(*, scoring_model: ScoringModel, user: User, note: str) -> ScoringModelVersion:
    """Publish the draft as a new version with its change note; the rescore starts after commit."""
    return scoring_model_publish(scoring_model=scoring_model, user=user, note=note.strip())


def draft_restore(*, version: ScoringModelVersion) -> ScoringModel:
    """Make an old version the draft again (published only when someone publishes it)."""
    scoring_model, _version = scoring_model_load(data=version.definition, publish=False)
    return scoring_model


# --- proposals -----------------------------------------------------------------------------------


def _check_edits(scoring_model: ScoringModel, edits: Sequence[Mapping[str, Any]]) -> None:
    names = set(scoring_model.criteria.values_list("name", flat=True))
    problems: list[Problem] = []
    for i, edit in enumerate(edits):
        path = f"edits[{i}]"
        action = edit.get("action")
        if action not in PROPOSAL_ACTIONS:
            problems.append(Problem(f"{path}.action", "must be add, change or remove"))
            continue
        if action in ("change", "remove") and edit.get("name") not in names:
            problems.append(Problem(f"{path}.name", "no criterion of that name in the draft"))
        if action != "remove":
            problems += validate_criterion(edit.get("criterion"))
    if not edits:
        problems.append(Problem("edits", "a proposal needs at least one edit"))
    if problems:
        raise DefinitionError(problems)


@transaction.atomic
def proposal_create(
    *,
    scoring_model: ScoringModel,
    author: User,
    reason: str,
    edits: Sequence[Mapping[str, Any]],
) -> Proposal:
    if not reason.strip():
        raise DefinitionError([Problem("reason", "say why the change helps")])
    _check_edits(scoring_model, edits)
    return Proposal.objects.create(
        scoring_model=scoring_model, author=author, reason=reason.strip(), edits=list(edits)
    )


def proposal_comment_add(*, proposal: Proposal, author: User, text: str) -> ProposalComment:
    if not text.strip():
        raise DefinitionError([Problem("text", "write a comment first")])
    return ProposalComment.objects.create(proposal=proposal, author=author, text=text.strip())


def proposal_edits_applied(
    criteria: list[dict[str, Any]], edits: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The draft's criteria after a proposal's edits (unvalidated)."""
    result = [dict(c) for c in criteria]
    for edit in edits:
        index = next((i for i, c in enumerate(result) if c["name"] == edit.get("name")), None)
        if edit["action"] == "add":
            result.append(dict(edit["criterion"]))
        elif index is not None and edit["action"] == "change":
            result[index] = dict(edit["criterion"])
        elif index is not None:
            del result[index]
    return result


@transaction.atomic
def proposal_apply(*, proposal: Proposal, user: User) -> Proposal:
    """Apply an open proposal's edits to the draft; DefinitionError when the result is invalid
    (for example a criterion it changes was renamed meanwhile); nothing changes then."""
    proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != Proposal.Status.OPEN:
        raise DefinitionError([Problem("status", "this proposal was already decided")])
    scoring_model = _locked(proposal.scoring_model)
    data = scoring_model_draft_definition(scoring_model=scoring_model)
    data["criteria"] = proposal_edits_applied(data["criteria"], proposal.edits)
    scoring_model_load(data=data, publish=False)
    proposal.status = Proposal.Status.APPLIED
    proposal.decided_by = user
    proposal.decided_at = timezone.now()
    proposal.save(update_fields=["status", "decided_by", "decided_at"])
    return proposal


@transaction.atomic
def proposal_decline(*, proposal: Proposal, user: User, note: str) -> Proposal:
    proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != Proposal.Status.OPEN:
        raise DefinitionError([Problem("status", "this proposal was already decided")])
    proposal.status = Proposal.Status.DECLINED
    proposal.decided_by = user
    proposal.decided_at = timezone.now()
    proposal.decision_note = note.strip()
    proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return proposal
