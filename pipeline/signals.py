"""Signals of the sales pipeline that other parts of the product subscribe to (outbound
webhooks), sent after the transaction that caused them commits."""

from django.dispatch import Signal

# Sent with `handoff_ids` and `action` (a HandoffAction.Kind value) after every handoff action,
# including "created" when leads crossing the MQL threshold are handed over to sales. One signal
# carries every handoff one transaction changed the same way (a rescore chunk opens hundreds).
handoff_changed = Signal()
