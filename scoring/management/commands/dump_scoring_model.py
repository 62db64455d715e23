from typing import Literal

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.definition import DefinitionError, dumps_model, parse_model
from scoring.models import ScoringModel
from scoring.services import scoring_model_draft_spec


class Command(BaseCommand):
    help = "Print a scoring model as YAML or JSON (the draft, or a published version)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--format", choices=["yaml", "json"], default="yaml")
        parser.add_argument(
            "--published-version",
            type=int,
            dest="version_number",
            help="a published version number",
        )

    def handle(
        self,
        *args: object,
        slug: str,
        format: Literal["yaml", "json"],  # argparse's choices
        version_number: int | None,
        **options: object,
    ) -> None:
        scoring_model = ScoringModel.objects.filter(slug=slug).first()
        if scoring_model is None:
            known = ", ".join(ScoringModel.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"No scoring model {slug!r} (known: {known}).")
        if version_number is not None:
            version = scoring_model.versions.filter(number=version_number).first()
            if version is None:
                raise CommandError(f"{slug} has no published version {version_number}.")
            spec = parse_model(version.definition)
        else:
            try:
                spec = scoring_model_draft_spec(scoring_model=scoring_model)
            except DefinitionError as exc:
                raise CommandError(f"The draft of {slug} is not valid: {exc}") from exc
        self.stdout.write(dumps_model(spec, format), ending="")
