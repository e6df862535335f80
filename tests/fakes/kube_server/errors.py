"""`Status` objects, shaped like the ones a real API server returns."""

from __future__ import annotations

from typing import Any

from .resources import Resource


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _details(res: Resource, name: str) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "kind": res.plural}
    if res.group:
        d["group"] = res.group
    return d


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'{res.group_resource} "{name}" not found', _details(res, name)
    )


def namespace_not_found(ns: str) -> ApiError:
    return ApiError(
        404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"}
    )


def already_exists(res: Resource, name: str) -> ApiError:
    return ApiError(
        409, "AlreadyExists", f'{res.group_resource} "{name}" already exists', _details(res, name)
    )


def conflict(res: Resource, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {res.group_resource} "{name}": {why}',
        _details(res, name),
    )


def stale(res: Resource, name: str) -> ApiError:
    return conflict(
        res,
        name,
        "the object has been modified; "
        "please apply your changes to the latest version and try again",
    )


def invalid(res: Resource, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """A 422 Invalid; causes are (reason, field, message) triples."""
    texts = [f"{field}: {message}" for _, field, message in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details = {
        "name": name,
        "kind": res.kind,
        "causes": [{"reason": r, "message": m, "field": f} for r, f, m in causes],
    }
    if res.group:
        details["group"] = res.group
    return ApiError(422, "Invalid", f'{res.qualified_kind} "{name}" is invalid: {joined}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def method_not_allowed() -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def unsupported_media(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, "
        "application/apply-patch+yaml, application/strategic-merge-patch+json "
        f'(got "{content_type}")',
    )


def service_unavailable(message: str) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message)
