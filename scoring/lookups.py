"""`field__any_of=values`: `field IN (values)` that stays one parameter on PostgreSQL.

A chunk of a full rescore filters by thousands of ids, several times over. As an IN list each id
is one placeholder that Django resolves and the driver splices into the query text, which cost
more than running the query; `= ANY(%s)` sends them as one array.
"""

from collections.abc import Iterable
from typing import Any

from django.db.models import Field, ForeignObject, Lookup
from django.db.models.lookups import In


class AnyOf(Lookup[list[Any]]):
    lookup_name = "any_of"

    def get_prep_lookup(self) -> list[Any]:
        prep = self.lhs.output_field.get_prep_value
        return [prep(value) for value in self.rhs]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any] | tuple[Any, ...]]:
        if connection.vendor != "postgresql":
            return In(self.lhs, self.rhs).as_sql(compiler, connection)
        lhs, params = self.process_lhs(compiler, connection)
        # Cast to the column's type: the driver types an array by its values (smallint for
        # small ids), and a cross-type comparison can keep the planner from an index.
        column_type = self.lhs.output_field.cast_db_type(connection)
        cast = f"::{column_type}[]" if column_type else ""
        values = list(self.rhs)
        if cast and all(type(value) is int for value in values):
            return f"{lhs} = ANY(%s{cast})", [*params, int_array(values)]
        return f"{lhs} = ANY(%s{cast})", [*params, values]


def int_array(values: Iterable[int]) -> str:
    """A PostgreSQL array literal of integers, passed as one text parameter and cast there
    (`%s::bigint[]`): the driver adapts a list element by element in Python, which at
    thousands of ids costs more than the query that uses them."""
    return "{" + ",".join(map(str, values)) + "}"


Field.register_lookup(AnyOf)
# Relations take only the lookups registered on them.
ForeignObject.register_lookup(AnyOf)
