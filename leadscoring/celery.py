"""The Celery app: configured from Django settings (namespace CELERY), tasks autodiscovered."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadscoring.settings")

app = Celery("leadscoring")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# celery ships no type information: to mypy its decorators are untyped.
@app.on_after_finalize.connect  # type: ignore[untyped-decorator]
def setup_periodic_tasks(sender: Celery, **kwargs: object) -> None:
    """Every periodic job lives here, each with when and why."""
    from pipeline import tasks as pipeline_tasks
    from scoring import tasks

    # Decay, look-back windows and inactivity move scores while nothing happens; refresh them
    # at night, when the bulk queue is idle.
    sender.add_periodic_task(
        crontab(hour=2, minute=30), tasks.refresh_time_dependent_scores.s(), name="daily decay"
    )
    # Rescore requests whose flush task got lost (a restart between commit and send).
    sender.add_periodic_task(60.0, tasks.rescore_pending_sweep.s(), name="pending rescore sweep")
    # Chunks of a run whose worker died (killed, out of memory) go out again a few minutes
    # after the run stopped moving, not after the broker's visibility timeout.
    sender.add_periodic_task(60.0, tasks.rescore_runs_sweep.s(), name="rescore runs sweep")
    # Handoffs nobody answered in time stand out in the queue and reach notifications quickly.
    sender.add_periodic_task(
        300.0, pipeline_tasks.mark_sla_breaches.s(), name="handoff SLA breaches"
    )
    # A buying signal older than the intent window no longer lifts its handoff in the queue;
    # nightly, every open handoff's priority is recomputed (account data edited by hand, say).
    sender.add_periodic_task(
        300.0, pipeline_tasks.refresh_queue_priorities.s(), name="queue priorities due"
    )
    sender.add_periodic_task(
        crontab(hour=2, minute=45),
        pipeline_tasks.refresh_queue_priorities.s(due_only=False),
        name="queue priorities nightly",
    )
    # The default reports (last 90 days, all models and each model) stay computed, so the
    # first manager of the day does not wait for aggregates over millions of rows.
    from reports import tasks as reports_tasks

    sender.add_periodic_task(
        240.0, reports_tasks.refresh_default_dashboards.s(), name="refresh default reports"
    )
    # Page views of visitors who never identified themselves are forgotten after the retention
    # period (TRACKING_ANONYMOUS_RETENTION_DAYS); nightly, off-peak.
    from integrations import tasks as integrations_tasks

    sender.add_periodic_task(
        crontab(hour=3, minute=15),
        integrations_tasks.purge_anonymous_visits.s(),
        name="purge anonymous visits",
    )
    # Outcomes keep arriving: each predictive score learns again weekly (Sunday night) and
    # every lead's chance to convert is recomputed with it.
    from learning import tasks as learning_tasks

    sender.add_periodic_task(
        crontab(day_of_week=0, hour=4, minute=0),
        learning_tasks.predictive_retrain_all.s(),
        name="retrain predictive scores",
    )
