"""Signals of scoring that other parts of the product subscribe to (outbound webhooks, the
queue), each sent after the transaction that caused it commits, so a receiver sees the rows."""

from django.dispatch import Signal

# Sent with `event_ids`: the ScoreEvent rows (MQL reached or lost, band changed) just recorded.
score_events_recorded = Signal()

# Sent with `lead_ids` after their scores were computed and stored (whether or not a total
# changed): whatever is derived from a lead's scores and activities may need a refresh. A rescore
# also sends `opened_handoff_ids`, the handoffs it opened (with their queue priority already).
scores_stored = Signal()
