"""What the routers share: ETags and ``If-Match``, files, object lookups by team."""

from typing import Any

from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from ninja.pagination import CursorPagination

from ..problems import PreconditionFailed, Problem

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class Cursor(CursorPagination):
    """ninja's cursor pagination with the API's page sizes: ``?cursor=…&page_size=…``;
    ``next`` / ``previous`` are full URLs (null at the ends)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("ordering", ("-pk",))
        kwargs.setdefault("page_size", PAGE_SIZE)
        kwargs.setdefault("max_page_size", MAX_PAGE_SIZE)
        super().__init__(**kwargs)


def etag(row_version: int) -> str:
    return f'"rv{row_version}"'


def check_if_match(request: HttpRequest, row_version: int, *, required: bool = True) -> int:
    """The row version ``If-Match`` names, checked against the current one.

    428 when it is required and missing, 412 when it names another version (someone
    saved in between: the editor's optimistic locking, over HTTP). ``*`` matches any.
    """
    header = request.headers.get("If-Match", "").strip()
    current = etag(row_version)
    if not header:
        if required:
            raise PreconditionFailed(
                "Send If-Match with the ETag you read (GET this resource first), so an edit "
                "never overwrites someone else's.",
                status=428,
                current_etag=current,
            )
        return row_version
    if header == "*":
        return row_version
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    if current not in tags:
        raise PreconditionFailed(
            "It was changed by someone else after you read it (ETag "
            f"{current}, you sent {header}). Nothing was saved: read it again, then retry.",
            current_etag=current,
        )
    return row_version


def with_etag(response: HttpResponse, row_version: int) -> HttpResponse:
    response["ETag"] = etag(row_version)
    return response


def get_in(queryset: QuerySet[Any], what: str, **lookup: Any) -> Any:
    """One object of an already team-filtered queryset, or 404."""
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404(f"No such {what}.")
    return obj


def attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def pk_of(obj: Model | None) -> int | None:
    return obj.pk if obj is not None else None


# The refusals every operation may answer with (problem details).
ERRORS: dict[int, Any] = {status: Problem for status in (400, 401, 403, 404, 422, 429)}
