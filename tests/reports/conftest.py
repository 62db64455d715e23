import pytest
from django.core.cache import cache

from tests.reports.pipeline_data import Pipeline, pipeline_build


@pytest.fixture(autouse=True)
def _fresh_cache():  # type: ignore[no-untyped-def]
    # Dashboard figures are cached per filter set; every test starts from an empty cache.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def pipeline(db) -> Pipeline:  # type: ignore[no-untyped-def]
    return pipeline_build()
