from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = "Sales pipeline"

    def ready(self) -> None:
        from scoring.signals import (
            handoff_changed,
            handoffs_opening,
            handoffs_opening_columns,
            scores_stored,
        )

        from .services import (
            on_handoff_changed,
            on_handoffs_opening,
            on_handoffs_opening_columns,
            on_scores_stored,
        )

        handoff_changed.connect(on_handoff_changed, dispatch_uid="pipeline.autoassign")
        handoffs_opening.connect(on_handoffs_opening, dispatch_uid="pipeline.opening_priorities")
        handoffs_opening_columns.connect(
            on_handoffs_opening_columns, dispatch_uid="pipeline.opening_priority_columns"
        )
        scores_stored.connect(on_scores_stored, dispatch_uid="pipeline.priorities")
