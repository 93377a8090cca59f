"""Integrators' webhooks: registering and deleting them, a delivery for each status
change of their tasks and for each event of their tasks' posts (`webhook_event_record`,
which publishing calls: `post.published`, ...), and each delivery's attempts.

- Every status change of a task (`_common.save`, the one place a task is saved) makes
  one delivery per active webhook of the task's owner, in the same transaction: a
  read of their keys and one bulk insert, once it is known that the owner has some
  (the task's lock reads it; else a probe of the owner's webhooks, all a change costs
  an owner with none).
  The deliveries are sent to the queue after commit; the row is the truth, and what
  the broker lost is sent again by `webhook_dispatch_waiting` on every beat.
- An attempt first claims the delivery (attempt n only while n-1 were made and n is at
  most WEBHOOK_MAX_ATTEMPTS), so a message delivered twice, or sent again by the
  dispatcher, makes one attempt, and no delivery ever gets more than the maximum. A
  2xx answer delivers it; anything else is tried again after WEBHOOK_RETRY_DELAY,
  doubled each time, until WEBHOOK_MAX_ATTEMPTS; a refused address (the URL now
  resolves to a private one) is not tried again. An attempt that has no outcome
  within its lease (WEBHOOK_TIMEOUT and a margin) counts as lost: the dispatcher sends
  the next one, or gives the delivery up when it was the last.
- Nothing here can fail or slow a pipeline step beyond those statements: the HTTP
  request is a Celery task on a queue of its own, run by a worker of its own
  (WEBHOOK_CONCURRENCY threads, `tasks.queue.size_deliveries_worker`), and it holds
  no database connection while it waits for the receiver.
"""

import logging
import random
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from contentpipeline.database import release_connection
from contentpipeline.errors import ApplicationError, NotFound
from tasks.pipeline.sources import RefusedAddress, SourceError, check_host

from ..models import ContentTask, DeliveryState, Webhook, WebhookDelivery
from ..queue import send_deliveries
from ..webhooks import post

logger = logging.getLogger(__name__)

STATUS_EVENT = "task.status"
MAX_URL_LENGTH = 2000
# The longest wait between two attempts, whatever the settings: Redis hands a message
# held longer than the broker's visibility timeout (an hour) to a second worker.
MAX_RETRY_WAIT = 1800.0
# Finished deliveries are kept this long for the record, then removed by the dispatcher.
KEEP_FINISHED = timedelta(days=30)
DISPATCH_BATCH = 1000
# An attempt's lease beyond WEBHOOK_TIMEOUT, the deadline of the whole exchange with the
# receiver: reading the delivery before it and writing the outcome after it (each may
# wait DB_POOL_TIMEOUT, 10 s, for a connection) and closing the socket.
ATTEMPT_LEASE_MARGIN = 30.0
LOST_LAST_ATTEMPT = "The last attempt was lost: it had no outcome within its lease."
_http_url = URLValidator(schemes=["http", "https"])


def clean_webhook_url(url: str) -> str:
    """The URL stripped; ApplicationError (400) unless it is an http(s) URL of at most
    MAX_URL_LENGTH characters whose host resolves, and only to public addresses (unless
    WEBHOOK_ALLOW_PRIVATE)."""
    url = str(url).strip()
    if not url or "\x00" in url or len(url) > MAX_URL_LENGTH:
        raise ApplicationError(f"A webhook URL has 1 to {MAX_URL_LENGTH} characters.")
    try:
        _http_url(url)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except (ValidationError, ValueError) as exc:
        raise ApplicationError(f"Not an http(s) URL: {url[:100]!r}") from exc
    try:
        check_host(parts.hostname or "", port, allow_private=settings.WEBHOOK_ALLOW_PRIVATE)
    except RefusedAddress as exc:
        raise ApplicationError(f"Refused: {exc}.") from exc
    except SourceError as exc:
        raise ApplicationError(f"Not a reachable URL: {exc}.") from exc
    return url


@transaction.atomic
def webhook_create(*, user: AbstractBaseUser, url: str) -> Webhook:
    """Register `url` for the user's task events, with a new secret. ApplicationError
    (400) for a URL `clean_webhook_url` refuses, one the user registered already, or
    beyond WEBHOOKS_PER_USER webhooks (counted with the user's row locked, so two
    requests at once cannot both take the last place)."""
    url = clean_webhook_url(url)
    if get_user_model().objects.select_for_update().filter(pk=user.pk).first() is None:
        raise NotFound("User not found.")
    webhooks = Webhook.objects.filter(owner=user)
    if webhooks.filter(url=url).exists():
        raise ApplicationError("This URL is registered already.")
    if webhooks.count() >= settings.WEBHOOKS_PER_USER:
        raise ApplicationError(
            f"A user has at most {settings.WEBHOOKS_PER_USER} webhooks; delete one first."
        )
    return Webhook.objects.create(owner=user, url=url, secret=f"whsec_{secrets.token_hex(32)}")


@transaction.atomic
def webhook_delete(*, user: AbstractBaseUser, webhook_id) -> None:
    """Delete the user's webhook and its deliveries (no attempt starts after this; one
    under way may still arrive); NotFound for any other id, so nobody learns that
    another's exists."""
    try:
        deleted, _ = Webhook.objects.filter(owner=user, pk=webhook_id).delete()
    except (ValueError, ValidationError):
        deleted = 0
    if not deleted:
        raise NotFound("Webhook not found.")


def webhook_set_active(*, webhook_ids: list, active: bool) -> int:
    """Switch webhooks off (no delivery is made for them, pending ones fail at their
    next attempt) or on again; how many changed."""
    return Webhook.objects.filter(pk__in=webhook_ids).exclude(active=active).update(active=active)


def status_payload(task: ContentTask, *, previous_status: str | None, message: str) -> dict:
    """The event a status change sends (the delivery's id is added when it is sent)."""
    return {
        "event": STATUS_EVENT,
        "task_id": str(task.pk),
        "status": task.status,
        "previous_status": previous_status,
        "stage": task.stage,
        "progress": task.progress,
        "message": message,
        "error": task.error,
        "timestamp": timezone.now().isoformat(),
    }


def webhook_deliveries_record(
    *,
    task: ContentTask,
    previous_status: str | None,
    message: str,
    owner_has_webhooks: bool | None = None,
) -> int:
    """A delivery of the task's status change to each active webhook of its owner,
    sent to the queue once the surrounding transaction commits; how many were made.
    `owner_has_webhooks` is what the caller read in this transaction (the services'
    lock reads it); when it was not read, an index is probed first, so an owner
    without webhooks (the pipeline's usual case) costs that probe and nothing more.
    With some, their keys are read and one bulk insert makes them all."""
    if owner_has_webhooks is False:
        return 0
    webhooks = Webhook.objects.filter(owner_id=task.created_by_id, active=True)
    if owner_has_webhooks is None and not webhooks.exists():
        return 0
    payload = status_payload(task, previous_status=previous_status, message=message)
    return _deliveries_create(
        webhooks, task_id=task.pk, event=STATUS_EVENT, status=task.status,
        previous_status=previous_status or "", payload=payload,
    )  # fmt: skip


def webhook_event_record(*, task_id, event: str, payload: dict[str, Any]) -> int:
    """A delivery of an event about the task's work other than its status (a post's,
    `post.published`, ...) to each active webhook of the task's owner, sent once the
    surrounding transaction commits, like a status change's (the same attempts,
    retries and signature); how many were made. The body is `payload` with `event`,
    `task_id` and `timestamp` (ISO 8601) added; nothing for a task that is gone."""
    task = ContentTask.objects.filter(pk=task_id).values("created_by_id", "status").first()
    if task is None:
        return 0
    webhooks = Webhook.objects.filter(owner_id=task["created_by_id"], active=True)
    body = {**payload, "event": event, "task_id": str(task_id),
            "timestamp": timezone.now().isoformat()}  # fmt: skip
    return _deliveries_create(
        webhooks, task_id=task_id, event=event, status=task["status"], previous_status="",
        payload=body,
    )  # fmt: skip


def _deliveries_create(webhooks, *, task_id, payload: dict, **fields: Any) -> int:
    """One pending delivery of `payload` to each of `webhooks` (one bulk insert), each
    sent to the queue as its first attempt after commit; how many."""
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            webhook_id=webhook_id, task_id=task_id, payload=payload, state=DeliveryState.PENDING,
            created_at=now, next_attempt_at=now, **fields,
        )
        for webhook_id in webhooks.values_list("pk", flat=True)
    )  # fmt: skip
    ids = [delivery.pk for delivery in deliveries]
    if ids:
        transaction.on_commit(lambda: send_deliveries((pk, 1) for pk in ids))
    return len(ids)


def retry_wait(attempt: int) -> float:
    """Seconds before the attempt after `attempt`: WEBHOOK_RETRY_DELAY doubled for each
    attempt made before, up to a fifth more so that many deliveries failing together do
    not all come back at once; at most MAX_RETRY_WAIT."""
    wait = settings.WEBHOOK_RETRY_DELAY * 2 ** (attempt - 1)
    return min(wait * random.uniform(1.0, 1.2), MAX_RETRY_WAIT)


def _attempt_lease() -> timedelta:
    """How long an attempt in flight may take before the dispatcher counts it as lost:
    WEBHOOK_TIMEOUT, within which the whole exchange with the receiver ends, and
    ATTEMPT_LEASE_MARGIN."""
    return timedelta(seconds=settings.WEBHOOK_TIMEOUT + ATTEMPT_LEASE_MARGIN)


def webhook_deliver(*, delivery_id: int, attempt: int) -> float | None:
    """Make attempt number `attempt` of the delivery and record how it went (attempts,
    the answer's status code and first characters, or the error). Does nothing unless
    `attempt` is at most WEBHOOK_MAX_ATTEMPTS and the delivery is pending with
    attempt - 1 attempts made. No database connection is held while the receiver is
    waited for: the thread's goes back to the pool before the request, and the outcome
    is written with one taken afterwards. Returns the seconds to wait before the next
    attempt, or None when there is none to make (delivered, given up, or not this
    call's to make)."""
    if attempt > settings.WEBHOOK_MAX_ATTEMPTS:
        return None
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, state=DeliveryState.PENDING, attempts=attempt - 1
    ).update(attempts=attempt, last_attempt_at=now, next_attempt_at=now + _attempt_lease())
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None:  # the webhook was deleted meanwhile
        return None
    webhook = delivery.webhook
    if not webhook.active:
        _record(delivery, attempt, state=DeliveryState.FAILED, error="The webhook is switched off.")
        return None
    release_connection()
    outcome = post(
        webhook.url,
        secret=webhook.secret,
        payload={**delivery.payload, "delivery_id": delivery.pk},
        event=delivery.event,
        delivery_id=delivery.pk,
        timeout=settings.WEBHOOK_TIMEOUT,
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE,
    )
    fields: dict[str, Any] = {
        "last_status_code": outcome.status_code,
        "last_response": outcome.excerpt,
        "error": outcome.error,
    }
    if outcome.delivered:
        _record(delivery, attempt, state=DeliveryState.DELIVERED, delivered_at=timezone.now(),
                **fields)  # fmt: skip
        return None
    if outcome.final or attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        if _record(delivery, attempt, state=DeliveryState.FAILED, **fields):
            logger.info("Webhook delivery %s failed after %d attempt(s): %s",
                        delivery.pk, attempt, outcome.error)  # fmt: skip
        return None
    wait = retry_wait(attempt)
    _record(delivery, attempt, state=DeliveryState.PENDING,
            next_attempt_at=timezone.now() + timedelta(seconds=wait), **fields)  # fmt: skip
    return wait


def _record(
    delivery: WebhookDelivery,
    attempt: int,
    *,
    state: str,
    error: str = "",
    next_attempt_at=None,
    **fields: Any,
) -> bool:
    """Write how the attempt went, unless the dispatcher counted it as lost meanwhile
    (the delivery was claimed by a later attempt, or given up after its last); whether
    it was written."""
    written = WebhookDelivery.objects.filter(
        pk=delivery.pk, attempts=attempt, state=DeliveryState.PENDING
    ).update(state=state, last_error=error[:500], next_attempt_at=next_attempt_at, **fields)
    return written > 0


def webhook_dispatch_waiting() -> int:
    """Send again the pending deliveries whose attempt is overdue by more than
    PIPELINE_DISPATCH_GRACE: their message was never sent (broker down at commit or
    at a retry) or was lost with its worker, or an attempt had no outcome within its
    lease. Each is sent as its next attempt and marked sent now, so it is not sent again
    before the grace has passed once more; one whose last attempt (WEBHOOK_MAX_ATTEMPTS)
    was lost is given up instead (failed), so no attempt past the maximum is ever sent.
    Also removes deliveries finished more than KEEP_FINISHED ago. Returns how many were
    sent."""
    now = timezone.now()
    overdue = list(
        WebhookDelivery.objects.filter(
            state=DeliveryState.PENDING,
            next_attempt_at__lt=now - timedelta(seconds=settings.PIPELINE_DISPATCH_GRACE),
        )
        .order_by("next_attempt_at")
        .values_list("pk", "attempts")[:DISPATCH_BATCH]
    )
    last = settings.WEBHOOK_MAX_ATTEMPTS
    lost_last = [pk for pk, attempts in overdue if attempts >= last]
    again = [(pk, attempts) for pk, attempts in overdue if attempts < last]
    if lost_last:
        # Still pending: the last attempt wrote no outcome (if it ever ends, its outcome
        # is not written over this, see _record).
        given_up = WebhookDelivery.objects.filter(
            pk__in=lost_last, state=DeliveryState.PENDING
        ).update(state=DeliveryState.FAILED, next_attempt_at=None, last_error=LOST_LAST_ATTEMPT)
        logger.info("Gave up %d webhook delivery(s) whose last attempt was lost", given_up)
    if again:
        # Marked first: an attempt that starts at once sets its own time after this.
        WebhookDelivery.objects.filter(
            pk__in=[pk for pk, _ in again], state=DeliveryState.PENDING
        ).update(next_attempt_at=now)
    sent = send_deliveries((pk, attempts + 1) for pk, attempts in again)
    if sent:
        logger.info("Sent %d overdue webhook delivery(s) again", len(sent))
    old = list(
        WebhookDelivery.objects.exclude(state=DeliveryState.PENDING)
        .filter(created_at__lt=now - KEEP_FINISHED)
        .values_list("pk", flat=True)[:DISPATCH_BATCH]
    )
    if old:
        WebhookDelivery.objects.filter(pk__in=old).delete()
    return len(sent)
