"""The criterion types, one module each. A type's module owns everything about it:

- in rules as code: TYPE (its name), SPEC (its definition class), KEYS (its keys beside name,
  type, points, description and enabled) and read (those keys read and checked);
- in the engine: FIT (whether its points count as fit rather than engagement), READS_ACTIVITIES,
  NEWEST_ONLY (whether only each lead's newest matching activity by the moment decides it),
  lead_paths / property_keys (the values it reads), window (how far back it counts activities),
  decay and from_evidence (its half-life, and its amount from a stored evidence count where that
  is exact), evaluate / evidence / time_dependent (see scoring.criteria.base);
- in the editor, as plain data: LABEL (its name for people), FIELDS (its inputs, in rows) and
  sentence (what it says in words).

Adding a type is one module, its line below, its tests and its translations.
"""

from types import ModuleType
from typing import TypeAlias

from . import activity, attribute, frequency, inactivity
from .activity import ActivityCriterion
from .attribute import AttributeCriterion
from .frequency import FrequencyCriterion
from .inactivity import InactivityCriterion

TYPES: dict[str, ModuleType] = {
    module.TYPE: module for module in (attribute, activity, frequency, inactivity)
}
CRITERION_TYPES = tuple(TYPES)
Criterion: TypeAlias = (
    AttributeCriterion | ActivityCriterion | FrequencyCriterion | InactivityCriterion
)


class UnknownCriterionType(LookupError):
    pass


def criterion_type(criterion: Criterion) -> ModuleType:
    """The module of a criterion's type; an unknown type is an error, never a fallback."""
    name = getattr(criterion, "type", None)
    module = TYPES.get(name) if isinstance(name, str) else None
    if module is None or not isinstance(criterion, module.SPEC):
        raise UnknownCriterionType(f"no criterion type for {type(criterion).__name__}")
    return module
