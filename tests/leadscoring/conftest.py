"""What the project-wide tests share."""

import pytest
from django.conf import settings as django_settings
from rest_framework.settings import api_settings


@pytest.fixture
def num_proxies(settings):  # type: ignore[no-untyped-def]
    """Set NUM_PROXIES: a new REST_FRAMEWORK dict, so that DRF's setting_changed handler reloads
    its cached api_settings (and again when the test ends)."""

    def set_to(count: int) -> None:
        settings.REST_FRAMEWORK = {**django_settings.REST_FRAMEWORK, "NUM_PROXIES": count}
        assert api_settings.NUM_PROXIES == count

    return set_to
