"""The request the app's own screens get."""

from django.contrib.auth.models import User
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class AuthenticatedHttpRequest(HttpRequest):
    """Past the login middleware and the view's permission check (an anonymous user holds no
    permission), so signed in; with django-htmx's details."""

    user: User
    htmx: HtmxDetails
