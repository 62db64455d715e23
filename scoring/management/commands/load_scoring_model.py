from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.definition import DefinitionError, dump_model, loads_model
from scoring.models import ScoringModel
from scoring.services import scoring_model_load


class Command(BaseCommand):
    help = (
        "Load a scoring model from a YAML or JSON file into its draft and publish it "
        "(nothing is saved when the file has any problem)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--draft-only", action="store_true", help="update the draft without publishing it"
        )
        parser.add_argument("--note", default="", help="change note for the published version")

    def handle(
        self, *args: object, file: Path, draft_only: bool, note: str, **options: object
    ) -> None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        try:
            spec = loads_model(text)
            live_before = (
                ScoringModel.objects.filter(slug=spec.slug)
                .values_list("published_version_id", flat=True)
                .first()
            )
            scoring_model, version = scoring_model_load(
                data=dump_model(spec),
                publish=not draft_only,
                note=note or f"Loaded from {file.name}",
            )
        except DefinitionError as exc:
            for problem in exc.problems:
                self.stderr.write(f"{file}: {problem}")
            raise CommandError(
                f"{len(exc.problems)} problem(s) in {file}; nothing was saved."
            ) from exc
        if version is None:
            state = "saved as draft"
        elif version.pk == live_before:
            state = f"unchanged, version {version.number} stays live"
        else:
            state = f"published as version {version.number}"
        self.stdout.write(
            f"{scoring_model.slug}: {scoring_model.criteria.count()} criteria, {state}."
        )
