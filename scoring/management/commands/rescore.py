import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.rescoring import leads_rescore, published_slug_exists


class Command(BaseCommand):
    help = "Recompute every lead's score now, in this process, for all or one published model."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", help="slug of one scoring model")

    def handle(self, *args: object, model: str | None, **options: object) -> None:
        if model and not published_slug_exists(model):
            raise CommandError(f"No published scoring model {model!r}.")
        started = time.perf_counter()
        summary = leads_rescore(slugs=[model] if model else None)
        seconds = time.perf_counter() - started
        self.stdout.write(f"{summary.leads} leads rescored in {seconds:.1f} s")
        for slug, count in sorted(summary.per_model.items()):
            self.stdout.write(f"  {slug}: {count} scores")
        if summary.scores_removed:
            self.stdout.write(f"  {summary.scores_removed} scores removed (lead left the audience)")
