"""Open or update the drift issue of a model (placeholder, replaced below)."""

from __future__ import annotations

from typing import Any


class IssueError(RuntimeError):
    pass


def upsert_drift_issue(ctx: Any, result: Any, model: str, retrain: bool) -> str:
    raise IssueError("not implemented yet")
