"""Chat notifications through incoming webhooks (Slack, Microsoft Teams).

One payload serves both: `{"text": ...}` is what a Slack incoming webhook and
a Teams (Office 365 connector) incoming webhook accept as a plain message;
Slack renders `<url|label>` links and `*bold*`, Teams renders the Markdown
subset. Characters Slack treats as markup (`&`, `<`, `>`) in names that come
from the data are escaped.

The webhook URL is a secret (it is the only credential such a webhook has):
it never appears in a log line, an exception message or a report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

MAX_LISTED = 20
HEADS = {"drift": "Data drift detected", "insufficient-data": "Drift not judged: too little data"}


class NotifyError(RuntimeError):
    """A webhook failed; the message never contains the URL."""


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class DriftMessage:
    model: str
    status: str  # stable, drift or insufficient-data
    drift_share: float
    drift_share_threshold: float
    drifted: Sequence[str]
    compared: int
    retrain: bool | None
    run_url: str = ""
    performance_note: str = ""
    not_judged: Sequence[str] = ()

    def text(self) -> str:
        head = HEADS.get(self.status, "Drift check")
        lines = [
            f"*{head}* for model `{escape(self.model)}`: {len(self.drifted)} of "
            f"{self.compared} features drifted (share {self.drift_share:.2f}, "
            f"dataset drift at {self.drift_share_threshold:.2f}).",
        ]
        if self.not_judged:
            shown = ", ".join(f"`{escape(name)}`" for name in self.not_judged[:MAX_LISTED])
            more = len(self.not_judged) - MAX_LISTED
            lines.append(
                f"Not judged (see the report): {shown}"
                + (f" and {more} more" if more > 0 else "")
                + "."
            )
        if self.drifted:
            shown = ", ".join(f"`{escape(name)}`" for name in self.drifted[:MAX_LISTED])
            more = len(self.drifted) - MAX_LISTED
            lines.append(f"Drifted: {shown}" + (f" and {more} more" if more > 0 else "") + ".")
        if self.performance_note:
            lines.append(escape(self.performance_note))
        if self.retrain is not None:
            lines.append("Retraining requested." if self.retrain else "No retraining needed.")
        if self.run_url:
            lines.append(f"<{self.run_url}|Open the run> ({self.run_url})")
        return "\n".join(lines)

    def payload(self) -> dict[str, str]:
        return {"text": self.text()}


def send(url: str, payload: dict[str, str], timeout: float = 15.0) -> None:
    import requests

    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    try:
        response = requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=timeout,
        )
    except (requests.RequestException, ValueError) as err:
        # requests puts the URL into its messages: name the failure only.
        raise NotifyError(f"the webhook could not be reached ({type(err).__name__})") from None
    if response.status_code >= 300:
        raise NotifyError(f"the webhook answered HTTP {response.status_code}")
