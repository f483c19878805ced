"""Alerts of the movement kinds worded for the person who reads them (webhooks, chat)."""

from __future__ import annotations

from typing import Any

from services.shared.alert_kinds import CLOSE_DATE_PUSHED, QUALIFICATION_GAP, STALLED

TITLES = {
    CLOSE_DATE_PUSHED: "Closing date pushed",
    QUALIFICATION_GAP: "Late deal with a qualification gap",
    STALLED: "Early deal stalled",
}
ICONS = {CLOSE_DATE_PUSHED: ":calendar:", QUALIFICATION_GAP: ":warning:", STALLED: ":hourglass:"}


def _money(value: Any, currency: Any) -> str:
    try:
        amount = f"{float(value):,.0f}"
    except (TypeError, ValueError):
        amount = str(value)
    return f"{amount} {currency}".strip() if currency else amount


def _days(value: Any) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def sentence(alert: dict[str, Any]) -> str:
    """One sentence saying what happened, e.g. "Closing date of Acme pushed from 2026-12-15 to 2027-02-10"."""
    kind = alert.get("kind")
    deal = alert.get("name") or alert.get("deal_id") or "a deal"
    amount = _money(alert.get("amount"), alert.get("currency"))
    if kind == CLOSE_DATE_PUSHED:
        times = alert.get("push_count")
        again = f", pushed {times} times so far" if isinstance(times, int) and times > 1 else ""
        return (
            f"Closing date of {deal} pushed from {alert.get('from_close_date')} to {alert.get('to_close_date')}"
            f" ({amount} this quarter{again})"
        )
    if kind == QUALIFICATION_GAP:
        missing = " and ".join(str(item).replace("_", " ") for item in alert.get("missing") or []) or "qualification"
        return f"{deal} entered {alert.get('stage')} (late) with the {missing} unknown ({amount})"
    if kind == STALLED:
        potential = _money(alert.get("potential_value"), alert.get("currency"))
        return (
            f"{deal} has stayed in {alert.get('stage')} for {alert.get('days_in_stage')} days, past its "
            f"{_days(alert.get('stall_days'))}-day limit ({potential} of potential value)"
        )
    return f"{kind} on {deal}"


def slack_body(alert: dict[str, Any], escape) -> dict[str, Any]:
    """The ``slack`` format of a movement alert; ``escape`` makes text safe for Slack mrkdwn."""
    kind = str(alert.get("kind"))
    title = TITLES.get(kind, kind)
    text = escape(sentence(alert))
    fields = [
        ("Stage", f"{escape(alert.get('stage'))} ({escape(alert.get('phase'))})"),
        ("Amount", escape(_money(alert.get("amount"), alert.get("currency")))),
        ("Severity", escape(alert.get("severity"))),
        ("Team", escape(alert.get("team"))),
        ("Owner", escape(alert.get("owner_id"))),
    ]
    return {
        "text": f"{ICONS.get(kind, '')} {title}: {text}"[:3000],
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"[:2000]} for k, v in fields]},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": (
                            f"deal {escape(alert.get('deal_id'))} · alert {escape(alert.get('alert_id'))}"
                            f" · {escape(alert.get('occurred_at'))}"
                        )[:3000],
                    }
                ],
            },
        ],
    }
