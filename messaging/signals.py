"""What the engine tells other apps (event webhooks) without importing them.

Both signals are sent inside the transaction that made the change, so a receiver
that writes rows commits or rolls back together with it.
"""

from django.dispatch import Signal

# An inbound text was stored. Keyword: message (messaging.models.Message).
message_received = Signal()

# Messages moved to one status, set-based. Keywords: message_ids (list[int]),
# status (a messaging.models.Status value).
message_statuses_changed = Signal()
