"""How a request handler reaches the server context (set on the app at start-up)."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request

from ..core.context import ServerContext


def context_of(request: Request) -> ServerContext:
    context: ServerContext = request.app.state.context
    return context


class LevelConvertor(Convertor[str]):
    """``patients|studies|series|instances`` in a route."""

    regex = "patients|studies|series|instances"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class RelativeConvertor(Convertor[str]):
    """A related level in ``/{level}/{id}/{relative}``: a child list (plural) or an ancestor (singular)."""

    regex = "patient|study|studies|series|instances"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("level", LevelConvertor())
register_url_convertor("relative", RelativeConvertor())
