"""Write actions on scoring models (load rules as code into the draft, publish the draft), and
the deletes of accounts and activities, which change the scores of the leads behind them."""

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import Max

from .definition import ModelSpec, dump_model, parse_model
from .ingest import rescore_request
from .models import Account, Activity, Criterion, Lead, ScoringModel, ScoringModelVersion

_COMMON = ("name", "type", "points", "description", "enabled")


def _plain_number(value: Decimal | float | None) -> int | float | None:
    """Decimal('20.00') -> 20 and Decimal('2.50') -> 2.5, as rules as code writes them."""
    if value is None:
        return None
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)


def scoring_model_draft_definition(*, scoring_model: ScoringModel) -> dict[str, Any]:
    """The draft (model fields plus criterion rows) as an unvalidated rules-as-code dict."""
    criteria = []
    for criterion in scoring_model.criteria.all():
        item: dict[str, Any] = {"name": criterion.name, "type": criterion.type}
        if criterion.description:
            item["description"] = criterion.description
        item.update(criterion.params)
        item["points"] = _plain_number(criterion.points)
        if not criterion.enabled:
            item["enabled"] = False
        criteria.append(item)
    data: dict[str, Any] = {
        "slug": scoring_model.slug,
        "name": scoring_model.name,
        "description": scoring_model.description,
        "mql_threshold": _plain_number(scoring_model.mql_threshold),
        "decay_half_life_days": _plain_number(scoring_model.decay_half_life_days),
        "audience": scoring_model.audience,
        "bands": scoring_model.bands,
        "grades": scoring_model.grades,
        "sla_hours": _plain_number(scoring_model.sla_hours),
        "sla_by_kind": scoring_model.sla_by_kind,
        "criteria": criteria,
    }
    return data


def scoring_model_draft_spec(*, scoring_model: ScoringModel) -> ModelSpec:
    """The validated draft; raises DefinitionError listing every problem."""
    return parse_model(scoring_model_draft_definition(scoring_model=scoring_model))


def _write_draft(scoring_model: ScoringModel, spec: ModelSpec) -> None:
    canonical = dump_model(spec)
    scoring_model.name = spec.name
    scoring_model.description = spec.description
    scoring_model.mql_threshold = Decimal(str(spec.mql_threshold))
    scoring_model.decay_half_life_days = spec.decay_half_life_days
    scoring_model.audience = canonical.get("audience", [])
    scoring_model.bands = canonical["bands"]
    scoring_model.grades = canonical.get("grades", [])
    scoring_model.sla_hours = spec.sla_hours
    scoring_model.sla_by_kind = canonical.get("sla_by_kind", [])
    scoring_model.save()
    scoring_model.criteria.all().delete()
    rows = []
    for position, item in enumerate(canonical["criteria"]):
        params = {k: v for k, v in item.items() if k not in _COMMON}
        rows.append(
            Criterion(
                scoring_model=scoring_model,
                position=position,
                name=item["name"],
                type=item["type"],
                points=Decimal(str(item["points"])),
                description=item.get("description", ""),
                enabled=item.get("enabled", True),
                params=params,
            )
        )
    Criterion.objects.bulk_create(rows)


@transaction.atomic
def scoring_model_load(
    *,
    data: Mapping[str, Any],
    user: User | AnonymousUser | None = None,
    publish: bool = True,
    note: str = "",
) -> tuple[ScoringModel, ScoringModelVersion | None]:
    """Validate a rules-as-code document and make it the model's draft (created when new).

    Nothing is saved when the document has any problem (DefinitionError lists them all). With
    `publish`, the draft is published at once unless it equals the live version.
    """
    spec = parse_model(data)
    scoring_model, _ = ScoringModel.objects.get_or_create(
        slug=spec.slug, defaults={"name": spec.name}
    )
    _write_draft(scoring_model, spec)
    version = None
    if publish:
        version = scoring_model_publish(scoring_model=scoring_model, user=user, note=note)
    return scoring_model, version


@transaction.atomic
def scoring_model_publish(
    *, scoring_model: ScoringModel, user: User | AnonymousUser | None = None, note: str = ""
) -> ScoringModelVersion:
    """Freeze the draft into a new immutable version and rescore every lead after commit.

    Publishing a draft identical to the live version returns the live version unchanged.
    """
    scoring_model = ScoringModel.objects.select_for_update().get(pk=scoring_model.pk)
    definition = dump_model(scoring_model_draft_spec(scoring_model=scoring_model))
    live = scoring_model.published_version
    if live is not None and live.definition == definition:
        return live
    last = scoring_model.versions.aggregate(n=Max("number"))["n"] or 0
    version = ScoringModelVersion.objects.create(
        scoring_model=scoring_model,
        number=last + 1,
        definition=definition,
        note=note,
        published_by=user if user is not None and user.is_authenticated else None,
    )
    scoring_model.published_version = version
    scoring_model.save(update_fields=["published_version", "updated_at"])

    from .tasks import rescore_model

    rescore_model.delay_on_commit(scoring_model.pk)
    return version


@transaction.atomic
def accounts_delete(*, account_ids: Iterable[int]) -> int:
    """Delete these accounts; their leads lose the account's fit, so they are rescored."""
    ids = list(account_ids)
    lead_ids = list(Lead.objects.filter(account_id__in=ids).values_list("pk", flat=True))
    deleted = Account.objects.filter(pk__in=ids).delete()[1].get(Account._meta.label, 0)
    rescore_request(lead_ids)  # the leads stay, without an account (SET_NULL)
    return deleted


@transaction.atomic
def activities_delete(*, activity_ids: Iterable[int]) -> int:
    """Delete these activities and rescore the leads they counted for."""
    activities = Activity.objects.filter(pk__in=list(activity_ids))
    lead_ids = set(activities.values_list("lead_id", flat=True))
    deleted = activities.delete()[1].get(Activity._meta.label, 0)
    rescore_request(lead_ids)
    return deleted
