from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from scoring.exports import SCORE_COLUMNS, score_rows, write_csv, write_xlsx
from scoring.models import ScoringModel


class _Unterminated:
    """Lets csv.writer use the command's stdout, which would otherwise add a newline per write."""

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, ending="")


class Command(BaseCommand):
    help = "Export one row per scored lead of a model as CSV (default) or XLSX, streamed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", required=True, help="slug of the scoring model")
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument("-o", "--output", help="file to write (CSV goes to stdout without it)")

    def handle(self, *args: object, **options: str) -> None:
        try:
            scoring_model = ScoringModel.objects.get(slug=options["model"])
        except ScoringModel.DoesNotExist:
            known = ", ".join(ScoringModel.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"No scoring model {options['model']!r} (known: {known}).") from None
        rows = score_rows(scoring_model)
        output = options["output"]
        if options["format"] == "xlsx":
            if not output:
                raise CommandError("XLSX needs a file: add -o scores.xlsx")
            count = write_xlsx(rows, SCORE_COLUMNS, output)
        elif output:
            with open(output, "w", newline="", encoding="utf-8") as handle:
                count = write_csv(rows, SCORE_COLUMNS, handle)
        else:
            count = write_csv(rows, SCORE_COLUMNS, _Unterminated(self.stdout))
        if output:
            self.stderr.write(f"{count} rows written to {output}")
