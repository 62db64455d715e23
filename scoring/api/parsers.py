"""The API's one request format, JSON, read with a bound on its nesting."""

import io
from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from leadscoring.inputs import MAX_DOCUMENT_DEPTH, nesting_depth_exceeds


class BoundedJSONParser(JSONParser):
    """JSON whose nesting is checked before it is parsed: the parser recurses once per level, and
    a body nested 100,000 deep would exhaust the stack instead of being refused."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        body = stream.read() if stream is not None else b""
        if nesting_depth_exceeds(body):
            raise ParseError(
                _("JSON nested deeper than %(depth)d levels.") % {"depth": MAX_DOCUMENT_DEPTH}
            )
        return super().parse(io.BytesIO(body), media_type, parser_context)
