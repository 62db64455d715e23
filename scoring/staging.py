"""PostgreSQL bulk writes through a session-private staging table.

COPY needs no placeholders however many rows there are, and the statement that follows can still
merge with ON CONFLICT and RETURNING.
"""

from collections.abc import Iterable
from typing import Any


def copy_to_stage(cursor: Any, *, name: str, columns: str, rows: Iterable[tuple]) -> str:
    """Copy `rows` into the temporary table `name` (created with `columns` when missing and
    emptied first); returns "SELECT * FROM name" for the merge statement."""
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DELETE ROWS")
    cursor.execute(f"TRUNCATE {name}")
    with cursor.cursor.copy(f"COPY {name} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    return f"SELECT * FROM {name}"  # noqa: S608 - fixed names
