from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = "Sales pipeline"

    def ready(self) -> None:
        from scoring.signals import handoff_changed

        from .services import on_handoff_changed

        handoff_changed.connect(on_handoff_changed, dispatch_uid="pipeline.autoassign")
