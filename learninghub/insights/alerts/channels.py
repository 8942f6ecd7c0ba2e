"""Sending one notification on its channel: email, Slack-compatible and Microsoft Teams incoming
webhooks, and the generic JSON webhook signed with HMAC-SHA256.

The chat formats are two small JSON shapes posted with httpx (already a dependency) rather than
through a notification library: the app must control the timeout, the redirect policy and the
address check of every request, and must see the status code to record the attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from learninghub.insights.alerts.models import Channel, Notification
from learninghub.insights.alerts.urlsafety import validate_webhook_url
from learninghub.kernel.headers import header_text

TIMESTAMP_HEADER = "X-LearningHub-Timestamp"
SIGNATURE_HEADER = "X-LearningHub-Signature"
USER_AGENT = "LearningHub-Alerts/1"


class DeliveryError(Exception):
    """A send that failed and may succeed later (timeouts, 5xx, refused connections)."""


def timeout() -> float:
    return float(getattr(settings, "ALERT_WEBHOOK_TIMEOUT", 5.0))


# --- Formats ---------------------------------------------------------------------------------

def plain_text(payload: dict) -> str:
    lines = [payload.get("title", ""), *payload.get("lines", [])]
    if payload.get("url"):
        lines.append(payload["url"])
    return "\n".join(line for line in lines if line)


def slack_body(payload: dict) -> dict:
    """Slack's incoming-webhook JSON: ``text`` (the fallback every compatible receiver reads) and blocks."""
    body = "\n".join(f"• {line}" for line in payload.get("lines", []))
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": payload.get("title", "")[:150]}}]
    if body:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}})
    if payload.get("url"):
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<{payload['url']}|Open in LearningHub>"}]})
    return {"text": plain_text(payload), "blocks": blocks}


def teams_body(payload: dict) -> dict:
    """A Microsoft Teams message with an Adaptive Card (what Teams' incoming-webhook workflows accept)."""
    card: dict = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [{"type": "TextBlock", "text": payload.get("title", ""), "weight": "Bolder", "size": "Medium",
                  "wrap": True}]
        + [{"type": "TextBlock", "text": line, "wrap": True, "spacing": "Small"} for line in payload.get("lines", [])],
    }
    if payload.get("url"):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in LearningHub", "url": payload["url"]}]
    return {"type": "message", "summary": payload.get("title", ""),
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}]}


def generic_body(notification: Notification) -> dict:
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "subject": notification.subject_key,
        "period": notification.period_key,
        "team": notification.team.slug if notification.team_id else None,
        "title": notification.payload.get("title", ""),
        "lines": notification.payload.get("lines", []),
        "url": notification.payload.get("url"),
        "data": notification.payload.get("data", {}),
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with the subscription's secret over ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300,
           now: float | None = None) -> bool:
    """What a receiver does (see README): recompute, compare in constant time, reject old timestamps."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


# --- Sending ---------------------------------------------------------------------------------

def send(notification: Notification) -> None:
    """Deliver ``notification``; DeliveryError when it did not arrive (the caller records and retries)."""
    subscription = notification.subscription
    if subscription.channel == Channel.EMAIL:
        _send_email(notification)
        return
    try:
        url = validate_webhook_url(subscription.target)
    except ValidationError as exc:
        raise DeliveryError("; ".join(exc.messages)) from exc
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-LearningHub-Event": notification.kind, "X-LearningHub-Delivery": str(notification.pk)}
    if subscription.channel == Channel.SLACK:
        body = json.dumps(slack_body(notification.payload)).encode()
    elif subscription.channel == Channel.TEAMS:
        body = json.dumps(teams_body(notification.payload)).encode()
    else:
        body = json.dumps(generic_body(notification), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = sign(subscription.secret, timestamp, body)
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout(), follow_redirects=False)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")


def _send_email(notification: Notification) -> None:
    address = notification.subscription.email_address
    if not address:
        raise DeliveryError("No email address to send to.")
    payload = notification.payload
    context = {"payload": payload, "notification": notification, "site_url": settings.SITE_URL}
    text = render_to_string(payload.get("text_template", "alerts/email/alert.txt"), context)
    message = EmailMultiAlternatives(subject=header_text(f"[LearningHub] {payload.get('title', '')}"), body=text,
                                     to=[address])
    if payload.get("html_template"):
        message.attach_alternative(render_to_string(payload["html_template"], context), "text/html")
    try:
        message.send()
    except OSError as exc:  # smtplib errors are OSErrors
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:500]) from exc
