from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scoring.csv_import import ImportReport, crm_import
from scoring.ingest import rescore_request


class Command(BaseCommand):
    help = (
        "Import accounts.csv, leads.csv, activities.csv and outcomes.csv from a folder "
        "(any may be missing), then rescore the leads that changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)

    def handle(self, *args: object, directory: Path, **options: object) -> None:
        try:
            report = crm_import(directory=directory)
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        for note in report.notes:
            self.stdout.write(note)
        for name in sorted(set(report.created) | set(report.updated) | set(report.unchanged)):
            self.stdout.write(
                f"{report.created.get(name, 0)} {name} created, "
                f"{report.updated.get(name, 0)} updated, {report.unchanged.get(name, 0)} unchanged"
            )
        self.after_import(report)
        for error in report.errors:
            self.stderr.write(error)
        if report.errors:
            raise CommandError(f"{len(report.errors)} rows could not be imported (listed above).")

    def after_import(self, report: ImportReport) -> None:
        if report.touched_lead_ids:
            rescore_request(report.touched_lead_ids)
            self.stdout.write(f"{len(report.touched_lead_ids)} leads sent for rescoring")
