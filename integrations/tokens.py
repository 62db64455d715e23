"""Creating and revoking ingestion tokens."""

from django.contrib.auth.models import AnonymousUser, User
from django.utils import timezone

from .models import IngestionToken, token_digest


def ingestion_token_create(
    *, name: str, source: str = "api", user: User | AnonymousUser | None = None
) -> tuple[IngestionToken, str]:
    """A new token and its key; the key is not stored and cannot be shown again."""
    raw = IngestionToken.generate_key()
    token = IngestionToken.objects.create(
        name=name,
        source=source,
        prefix=raw[:8],
        digest=token_digest(raw),
        created_by=user if user is not None and user.is_authenticated else None,
    )
    return token, raw


def ingestion_tokens_revoke(*, token_ids: list[int]) -> int:
    return IngestionToken.objects.filter(pk__in=token_ids, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
