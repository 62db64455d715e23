from .activities import ActivityViewSet
from .handoffs import HandoffViewSet
from .people import AccountViewSet, LeadViewSet
from .scoring_models import ScoreViewSet, ScoringModelViewSet

__all__ = [
    "AccountViewSet",
    "ActivityViewSet",
    "HandoffViewSet",
    "LeadViewSet",
    "ScoreViewSet",
    "ScoringModelViewSet",
]
