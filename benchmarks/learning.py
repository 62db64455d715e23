"""Learning from outcomes: how well the suggested points rank leads, against the rules and a
plain baseline, in synthetic CRM worlds (benchmarks/worlds.py).

For each world: its folder of CSV files goes through `import_crm`, its hand-made scoring model
through `load_scoring_model`, and then the product's own path (learning.cohort.cohort_of, then
learning.suggest.suggestion_of) learns the points on the earlier 70% of the outcomes and judges
them on the latest 30%. Beside it, a baseline that shares nothing with the product but the split:
a logistic regression on features flattened by hand from the database's tables (the lead's and
its account's columns and attributes, counts of each kind of activity, and of page views per
site section, in the 7, 30 and 90 days before the moment the cohort scores the lead at, and the
days since its last activity), only from activities strictly before that moment.

Then the predictive score (learning.predictive) on the same split: `_predictive_auc` (its test
AUC), `_suggested_share_of_predictive` (the suggested points' AUC over it: at least 0.95 is the
aim), the classifier it chose, its training time and how fast every lead gets its chance.

Prints `name=value` lines: per world `learning_<world>_baseline_lr_auc`, `_rules_auc`,
`_suggested_points_auc` (the test split's ROC AUCs), `_fitted_auc` (the product's regression
before its weights are rounded to points), `_leads`, `_outcomes` (the cohort), `_base_rate`,
`_seconds` (cohort plus suggestion), `_import_seconds` (import_crm with its rescoring) and
`_publish_seconds` (load_scoring_model with its rescoring of every lead);
then `predictive_auc`, `baseline_lr_auc`, `rules_auc` and `suggested_points_auc`, each the mean
over the worlds.
BENCH_LEARNING_LEADS sets the leads per world (default 20,000).
"""

import io
import math
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import django
import polars as pl

from benchmarks.worlds import WORLDS, world_write

_WINDOWS = (7, 30, 90)
# A category seen fewer times than this in the training split is "other".
_MIN_FREQUENCY = 20


def _leads() -> pl.DataFrame:
    """One row per lead: its columns and its account's, attributes spread into columns. Not the
    lifecycle stage: that is today's, which the outcome itself moved (a won lead is a customer)."""
    from scoring.models import Lead

    rows = list(
        Lead.objects.values_list(
            "pk", "job_title", "seniority", "country", "source", "unsubscribed", "email_invalid",
            "birthday", "created_at", "attributes", "account_id", "account__industry",
            "account__employee_count", "account__annual_revenue", "account__country",
            "account__is_target_account", "account__is_competitor", "account__attributes",
        )
    )  # fmt: skip
    lead_keys = sorted({k for row in rows for k in row[9]})
    account_keys = sorted({k for row in rows for k in (row[17] or {})})
    data: dict[str, list[Any]] = {
        "lead_id": [r[0] for r in rows],
        "job_title": [r[1] for r in rows],
        "seniority": [r[2] for r in rows],
        "country": [r[3] for r in rows],
        "source": [r[4] for r in rows],
        "unsubscribed": [float(r[5]) for r in rows],
        "email_invalid": [float(r[6]) for r in rows],
        "has_birthday": [float(r[7] is not None) for r in rows],
        "created_at": [r[8] for r in rows],
        "has_account": [float(r[10] is not None) for r in rows],
        "account_industry": [r[11] for r in rows],
        "log_employees": [math.log1p(r[12]) if r[12] is not None else None for r in rows],
        "log_revenue": [math.log1p(float(r[13])) if r[13] is not None else None for r in rows],
        "account_country": [r[14] for r in rows],
        "target_account": [float(bool(r[15])) for r in rows],
        "competitor": [float(bool(r[16])) for r in rows],
    }
    for key in lead_keys:
        data[f"lead_attr_{key}"] = [_text(r[9].get(key)) for r in rows]
    for key in account_keys:
        data[f"account_attr_{key}"] = [_text((r[17] or {}).get(key)) for r in rows]
    return pl.DataFrame(data, strict=False)


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _activities(cohort: pl.DataFrame) -> pl.DataFrame:
    """Per cohort lead: counts per signal (a kind, or a page view's site section) in each window
    before its `at`, and the days since its last activity then."""
    from django.db.models.fields.json import KT

    from scoring.models import Activity

    rows = Activity.objects.annotate(url=KT("properties__url")).values_list(
        "lead_id", "kind", "occurred_at", "url"
    )
    activities = pl.DataFrame(
        list(rows.iterator(chunk_size=20_000)),
        schema={"lead_id": pl.Int64, "kind": pl.String,
                "occurred_at": pl.Datetime("us", "UTC"), "url": pl.String},
        orient="row",
    )  # fmt: skip
    section = (
        pl.col("url")
        .str.replace(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*", "")
        .str.extract(r"^(/[^/?#]*)", 1)
    )
    seen = (
        activities.join(cohort.select("lead_id", "at"), on="lead_id")
        .filter(pl.col("occurred_at") < pl.col("at"))  # strictly before: nothing leaks
        .with_columns(
            age=(pl.col("at") - pl.col("occurred_at")).dt.total_seconds() / 86_400,
            signal=pl.when(pl.col("kind") == "page_view", section.is_not_null())
            .then(pl.lit("page_view ") + section)
            .otherwise(pl.col("kind")),
        )
    )
    by_signal = seen.group_by("lead_id", "signal").agg(
        (pl.col("age") < days).sum().alias(f"d{days}") for days in _WINDOWS
    )
    wide = by_signal.pivot(on="signal", index="lead_id", values=[f"d{d}" for d in _WINDOWS])
    last = seen.group_by("lead_id").agg(days_since_last=pl.col("age").min())
    counted = [c for c in wide.columns if c != "lead_id"]
    return (
        cohort.select("lead_id")
        .join(wide, on="lead_id", how="left")
        .join(last, on="lead_id", how="left")
        .with_columns(pl.col(counted).fill_null(0).log1p(), pl.col("days_since_last").fill_null(-1))
    )


def _features(cohort: pl.DataFrame) -> pl.DataFrame:
    leads = _leads()
    frame = (
        cohort.select("lead_id", "at", "converted")
        .join(leads, on="lead_id", how="left")
        .join(_activities(cohort), on="lead_id", how="left")
    )
    # What this world's leads never have (no accounts, another world's attributes) says nothing.
    frame = frame.select(
        c for c in frame.columns if frame.get_column(c).null_count() < frame.height
    )
    tenure = (pl.col("at") - pl.col("created_at")).dt.total_seconds() / 86_400
    quiet = pl.col("days_since_last")
    return frame.with_columns(
        tenure_days=tenure.clip(0),
        # Never active: as quiet as the lead is old.
        days_since_last=pl.when(quiet < 0).then(tenure.clip(0)).otherwise(quiet).clip(0, 365),
        never_active=(quiet < 0).cast(pl.Float64),
    ).drop("created_at")


def baseline_auc(cohort: pl.DataFrame) -> float:
    """ROC AUC on the cohort's test split of a logistic regression trained on its train split."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, StandardScaler

    from learning.cohort import time_split

    train_ids, test_ids = (part.get_column("lead_id") for part in time_split(cohort))
    features = _features(cohort)
    categorical = [c for c, t in features.schema.items() if t == pl.String]
    numeric = [c for c in features.columns if c not in {"lead_id", "at", "converted", *categorical}]
    binned = [c for c in ("log_employees", "log_revenue", "tenure_days") if c in numeric]
    columns = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                      StandardScaler()), numeric),
            ("bins", make_pipeline(SimpleImputer(strategy="median"),
                                   KBinsDiscretizer(n_bins=8, encode="onehot",
                                                    strategy="quantile",
                                                    quantile_method="averaged_inverted_cdf")),
             binned),
            ("categories", make_pipeline(
                SimpleImputer(strategy="constant", fill_value="(none)"),
                OneHotEncoder(handle_unknown="infrequent_if_exist",
                              min_frequency=_MIN_FREQUENCY)), categorical),
        ]
    )  # fmt: skip
    model = make_pipeline(columns, LogisticRegression(C=0.3, max_iter=5000))
    inputs = numeric + categorical
    train = features.filter(pl.col("lead_id").is_in(train_ids.implode()))
    test = features.filter(pl.col("lead_id").is_in(test_ids.implode()))
    model.fit(train.select(inputs), train.get_column("converted").to_numpy())
    scores = model.decision_function(test.select(inputs))
    return float(roc_auc_score(test.get_column("converted").to_numpy(), scores))


def _world(name: str, seed: int, count: int) -> dict[str, Any]:
    from django.core.management import call_command

    from learning.cohort import cohort_of
    from learning.predictive import predictive_train, probabilities_refresh
    from learning.suggest import suggestion_of
    from scoring.definition import parse_model
    from scoring.models import Lead, ScoringModel

    with tempfile.TemporaryDirectory(prefix=f"learning-{name}-") as folder:
        model_path = world_write(name, Path(folder), count, seed)
        started = time.perf_counter()
        output = io.StringIO()
        call_command("import_crm", folder, stdout=output)
        imported = time.perf_counter() - started
        started = time.perf_counter()
        call_command("load_scoring_model", str(model_path), stdout=output)
        published = time.perf_counter() - started
        slug = parse_model(_yaml(model_path)).slug
    live = ScoringModel.objects.select_related("published_version").get(slug=slug)
    assert live.published_version is not None
    spec = parse_model(live.published_version.definition)
    started = time.perf_counter()
    cohort = cohort_of(spec)
    suggestion = suggestion_of(cohort)
    seconds = time.perf_counter() - started
    baseline = baseline_auc(cohort.frame)
    started = time.perf_counter()
    trained = predictive_train(scoring_model=live)
    trained_seconds = time.perf_counter() - started
    started = time.perf_counter()
    refreshed = probabilities_refresh(scoring_model=live)
    refresh_seconds = time.perf_counter() - started
    predictive = trained.predictive.test_auc
    leads = Lead.objects.filter(external_id__startswith=f"{name}-").count()
    return {
        "predictive_auc": _rounded(predictive),
        "suggested_share_of_predictive": _rounded(
            None
            if not predictive or suggestion.auc_suggested is None
            else suggestion.auc_suggested / predictive
        ),
        "predictive_kind": trained.predictive.kind,
        "predictive_train_seconds": round(trained_seconds, 1),
        "probabilities_leads": refreshed,
        "probabilities_leads_per_s": round(refreshed / max(refresh_seconds, 1e-9)),
        "baseline_lr_auc": round(baseline, 4),
        "rules_auc": _rounded(suggestion.auc_rules),
        "suggested_points_auc": _rounded(suggestion.auc_suggested),
        "fitted_auc": _rounded(suggestion.auc_fitted),
        "leads": leads,
        "outcomes": cohort.size,
        "base_rate": round(cohort.converted / max(1, cohort.size), 4),
        "seconds": round(seconds, 2),
        "import_seconds": round(imported, 1),
        "publish_seconds": round(published, 1),
    }


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _rounded(value: float | None) -> float:
    return math.nan if value is None else round(value, 4)


def run() -> dict[str, Any]:
    count = int(os.environ.get("BENCH_LEARNING_LEADS", "20000"))
    figures: dict[str, Any] = {}
    per_world = []
    for seed, name in enumerate(WORLDS, start=1):
        found = _world(name, seed, count)
        per_world.append(found)
        for key, value in found.items():
            figures[f"learning_{name}_{key}"] = value
            print(f"learning_{name}_{key}={value}", flush=True)
    for key in ("predictive_auc", "baseline_lr_auc", "rules_auc", "suggested_points_auc"):
        figures[key] = round(sum(w[key] for w in per_world) / len(per_world), 4)
        print(f"{key}={figures[key]}", flush=True)
    return figures


def main() -> None:
    """From `make bench`: in a scratch database of its own (BENCH_LEARNING_DATABASE_URL, dropped
    and recreated), migrated, then run(). Celery runs eagerly (in this process) whatever
    REDIS_URL the caller has: no worker is there to take the import's and publish's rescoring."""
    from benchmarks.pipeline import _database_prepare

    url = os.environ.get(
        "BENCH_LEARNING_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/leadscoring_learning"
    )
    _database_prepare(url)
    os.environ.pop("REDIS_URL", None)
    os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="leadscoring.settings")
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(60))
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run()


if __name__ == "__main__":
    main()
