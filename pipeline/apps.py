from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = "Sales pipeline"

    def ready(self) -> None:
        from scoring.signals import scores_stored

        from .services import on_handoff_changed, on_scores_stored
        from .signals import handoff_changed

        handoff_changed.connect(on_handoff_changed, dispatch_uid="pipeline.autoassign")
        scores_stored.connect(on_scores_stored, dispatch_uid="pipeline.priorities")
