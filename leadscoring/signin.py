"""Sign-in throttling (django-axes; settings: AXES_*): whose attempts are counted together."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest) -> str | None:
    """The address the API's and the tracking beacon's rate limits count too (DRF's get_ident):
    X-Forwarded-For only as far as our NUM_PROXIES proxies wrote it, so a made-up header gives a
    guesser no fresh count."""
    # get_ident reads only request.META, which a Django request has as well; the stubs ask for
    # DRF's Request.
    return BaseThrottle().get_ident(request)  # type: ignore[arg-type]


# django-axes ships no type information: its backend is Any to mypy.
class SignInThrottleBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """Refuses a locked-out sign-in before any password is checked (first in
    AUTHENTICATION_BACKENDS).

    Every sign-in page passes its request. authenticate() without one (Django's test client's
    login(), a shell) has no client to count or to refuse: axes would raise, this leaves it to
    the next backend.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        # Axes' check returns nothing (the next backend decides) or raises when locked out.
        super().authenticate(request, username=username, password=password, **kwargs)
        return None
