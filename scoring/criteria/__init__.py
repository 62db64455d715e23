"""The criterion types, one module each: what it matches, how it is worth points column-wise,
the evidence behind them, and whether the points change as time passes.

A type's module has TYPE (its name in rules as code), SPEC (its definition class), FIT (whether
its points count as fit rather than engagement), NEWEST_ONLY (whether only each lead's newest
matching activity by the moment decides it), lead_paths / property_keys (the values it reads),
window (how far back it counts activities), decay and from_evidence (its half-life, and its amount
from a stored evidence count where that is exact), and evaluate / evidence / time_dependent (see
scoring.criteria.base for what they take and answer).
"""

from types import ModuleType

from scoring.definition import CRITERION_TYPES, Criterion

from . import activity, attribute, frequency, inactivity

TYPES: dict[str, ModuleType] = {
    module.TYPE: module for module in (attribute, activity, frequency, inactivity)
}
if set(TYPES) != set(CRITERION_TYPES):
    raise ImportError(f"criterion types without a module: {set(CRITERION_TYPES) - set(TYPES)}")


class UnknownCriterionType(LookupError):
    pass


def criterion_type(criterion: Criterion) -> ModuleType:
    """The module of a criterion's type; an unknown type is an error, never a fallback."""
    module = TYPES.get(getattr(criterion, "type", None))
    if module is None or not isinstance(criterion, module.SPEC):
        raise UnknownCriterionType(f"no criterion type for {type(criterion).__name__}")
    return module
