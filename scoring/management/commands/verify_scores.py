from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.rescoring import published_slug_exists, scores_verify


class Command(BaseCommand):
    help = "Recompute every stored score from scratch and report leads whose stored score differs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", help="slug of one scoring model")
        parser.add_argument("--show", type=int, default=20, help="how many differences to list")

    def handle(self, *args: object, model: str | None, show: int, **options: object) -> None:
        if model and not published_slug_exists(model):
            raise CommandError(f"No published scoring model {model!r}.")
        drifts = scores_verify(slugs=[model] if model else None)
        for drift in drifts[:show]:
            self.stderr.write(f"lead {drift.lead_id} in {drift.slug}: {drift.problem}")
        if drifts:
            raise CommandError(f"{len(drifts)} stored scores differ from a recomputation.")
        self.stdout.write("0 differences: every stored score matches a recomputation.")
