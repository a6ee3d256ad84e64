"""``/api/v1/``: one NinjaAPI, its routers, its errors and its OpenAPI schema.

django-ninja: the request and response shapes are pydantic models (the one typed
definition of their limits), the OpenAPI 3.1 schema is generated from them and
served at ``/api/v1/openapi.json``; views stay plain functions over the apps'
services and selectors.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI, Router
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser

from cai_web.jsonlimits import json_loads

from . import problems
from .auth import AUTH
from .endpoints import constitutions, labelling, teams, training

DESCRIPTION = """The cai_web API: constitutions, prompt sets, models, runs of every kind and label
sets, for pipelines. Authenticate with a personal token (`Authorization: Bearer cai_…`,
created on a team's *API tokens* page); errors are RFC 9457 problem details. See docs/api.md."""


class CaiAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> OpenAPISchema:
        """ninja's schema, with every error response typed as ``application/problem+json``."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, answer in operation.get("responses", {}).items():
                    content = answer.get("content") or {}
                    if int(status) >= 400 and "application/json" in content:
                        answer["content"] = {problems.CONTENT_TYPE: content["application/json"]}
        return schema


class LimitedJSONParser(Parser):
    """Request bodies read by ``cai_web.jsonlimits`` (nesting depth, no NaN/Infinity);
    ninja answers a body it cannot parse with 400, and ``problems`` names why."""

    def parse_body(self, request: HttpRequest) -> Any:
        return json_loads(request.body)


api = CaiAPI(
    parser=LimitedJSONParser(),
    title="cai_web API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=AUTH,
    docs_url="/docs",
)
problems.install(api)

root = Router()
root.add_router("", teams.router)
root.add_router("", constitutions.router)
root.add_router("", training.router)
root.add_router("", labelling.router)
api.add_router("", root)
