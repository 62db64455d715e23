from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scoring.bad_rows import bad_rows


class Command(BaseCommand):
    help = (
        "List stored rows whose dates lie outside what the ways in accept (before 1970, more "
        "than ten years ahead, birthdays before 1900 or in the future); exit 1 when any exist."
    )

    def handle(self, *args: object, **options: object) -> None:
        found = bad_rows(now=timezone.now())
        for column in found:
            ids = ", ".join(str(pk) for pk in column.sample_ids)
            more = ", …" if column.rows > len(column.sample_ids) else ""
            self.stderr.write(
                f"{column.table}.{column.column}: {column.rows} rows outside {column.bounds} "
                f"(ids {ids}{more})"
            )
        if found:
            raise CommandError(f"{sum(c.rows for c in found)} rows hold implausible dates.")
        self.stdout.write("0 rows with implausible dates.")
