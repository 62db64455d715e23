"""Signals other parts of the product subscribe to (outbound webhooks, notifications, the queue).

All but the two `handoffs_opening` signals are sent after the transaction that caused them
commits, so a receiver sees the rows.
"""

from django.dispatch import Signal

# Sent with `event_ids`: the ScoreEvent rows (MQL reached or lost, band changed) just recorded.
score_events_recorded = Signal()

# Sent with `handoff_ids` and `action` (a HandoffAction.Kind value) after every handoff action,
# including "created" when leads crossing the MQL threshold are handed over to sales. One signal
# carries every handoff one transaction changed the same way (a rescore chunk opens hundreds).
handoff_changed = Signal()

# Sent with `lead_ids` after their scores were computed and stored (whether or not a total
# changed): whatever is derived from a lead's scores and activities may need a refresh. A rescore
# also sends `opened_handoff_ids`, the handoffs it opened (see handoffs_opening).
scores_stored = Signal()

# Sent inside the transaction, just before handoffs are opened, with `crossings` (a list of
# scoring.handoffs.MqlCrossing, their scores already stored) and `now`. A receiver may return a
# list of dicts, one per crossing in order, all with the same keys: further Handoff fields to
# insert with them (the queue's priority), so they need no second write.
handoffs_opening = Signal()

# Sent on PostgreSQL instead, with `now`, while the statement that opens handoffs is built: a
# receiver may return a scoring.handoffs.OpeningColumns, SQL for further Handoff fields computed
# from the rows being opened, so the statement writes them with the handoffs.
handoffs_opening_columns = Signal()
