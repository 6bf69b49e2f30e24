"""`POST /payments`: the core bank's webhook for payments, in the daemon's HTTP app.

Body: one payment or a JSON list of them (at most `payments.max_batch`), each
{"reference", "external_id", "amount", "currency" (default CNY), "paid_at"} with the
rules of the file import (engine.payments.rows). Numbers are read exactly (a JSON number
becomes a Decimal, never a float). A request is all or nothing:
- 201 when something was recorded, 200 when every payment was already recorded (a replay:
  "duplicate"); the body has each payment's status and id, in order;
- 422 naming the field (`[2].amount` in a list) when a payment is invalid or its debtor
  unknown, 409 when a reference is already recorded with other content; nothing is
  recorded then;
- 401 without `Authorization: Bearer <payments.webhook_token>` (compared in constant
  time); 503 when no token is configured or the database is not open yet.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web
from pydantic import SecretStr, ValidationError

from db.errors import DbError
from db.payments import BatchResult, NewPayment, Outcome, Recorded
from engine.payments.rows import PaymentRow, error_fields

if TYPE_CHECKING:
    import asyncpg

    from engine.settings import PaymentsSettings

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 1000
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="huilong-payments"'}


class PaymentStore(Protocol):
    async def record_batch(self, payments: Sequence[NewPayment]) -> BatchResult: ...


@dataclass(frozen=True, slots=True)
class PaymentsWebhook:
    """What the route needs: the shared token (None: not configured) and the store
    (None: the database is not open yet)."""

    token: SecretStr | None
    store: PaymentStore | None
    max_batch: int = DEFAULT_MAX_BATCH


PAYMENTS_KEY: web.AppKey[Callable[[], PaymentsWebhook | None]] = web.AppKey("payments")


def add_routes(app: web.Application, payments: Callable[[], PaymentsWebhook | None]) -> None:
    app[PAYMENTS_KEY] = payments
    app.router.add_post("/payments", receive_payments)


def _error(status: int, message: str, **extra: Any) -> web.Response:
    headers = _CHALLENGE if status == 401 else None
    return web.json_response({"error": message, **extra}, status=status, headers=headers)


def _authorised(request: web.Request, token: SecretStr) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode())


async def receive_payments(request: web.Request) -> web.Response:
    webhook = request.app[PAYMENTS_KEY]()
    if webhook is None or webhook.token is None:
        return _error(503, "the payments webhook is not configured")
    if not _authorised(request, webhook.token):
        return _error(401, "a valid bearer token is required")
    if webhook.store is None:
        return _error(503, "the database is not ready yet")
    try:
        body = json.loads(await request.text(), parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _error(400, "the body is not JSON")
    single = isinstance(body, dict)
    items = [body] if single else body
    if not isinstance(items, list) or not items:
        return _error(422, "body: one payment object or a non-empty list of them",
                      field="body")
    if len(items) > webhook.max_batch:
        return _error(413, f"at most {webhook.max_batch} payments per request")
    parsed = _parse(items, single, datetime.now(UTC))
    if isinstance(parsed, web.Response):
        return parsed
    try:
        result = await webhook.store.record_batch(parsed)
    except DbError as exc:
        log.warning("payments webhook: cannot record: %s", type(exc).__name__)
        return _error(503, "the database cannot record payments right now")
    if not result.committed:
        return _refusal(result.recorded, single)
    created = sum(1 for r in result.recorded if r.outcome is Outcome.CREATED)
    log.info("payments webhook: %d recorded, %d already recorded", created,
             len(result.recorded) - created)
    answers = [_answer(r) for r in result.recorded]
    status = 201 if created else 200
    return web.json_response(answers[0] if single else {"results": answers}, status=status)


def _parse(items: list[Any], single: bool, now: datetime) -> list[NewPayment] | web.Response:
    """The payments, or the 422 answer naming the first invalid one's field(s)."""
    payments = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        where = "" if single else f"[{index}]"
        if not isinstance(item, dict):
            return _error(422, f"{where or 'body'}: a payment must be an object",
                          field=where or "body")
        try:
            row = PaymentRow.model_validate(item, context={"now": now})
        except ValidationError as exc:
            problems = [(f"{where}.{f}" if where else f, reason)
                        for f, reason in error_fields(exc)]
            return _error(422, "; ".join(f"{f} {reason}" for f, reason in problems),
                          field=problems[0][0], fields=[f for f, _ in problems])
        if row.reference in seen:
            return _error(422, f"{where}.reference appears twice in this request "
                               f"(also [{seen[row.reference]}])", field=f"{where}.reference")
        seen[row.reference] = index
        payments.append(NewPayment(row.reference, row.external_id, row.amount, row.currency,
                                   row.paid_at_utc, row.paid_on))
    return payments


def _answer(recorded: Recorded) -> dict[str, Any]:
    return {"reference": recorded.reference, "status": recorded.outcome.value,
            "payment_id": recorded.payment_id}


def _refusal(recorded: Sequence[Recorded], single: bool) -> web.Response:
    # The first refused payment decides the answer; a conflict outranks an unknown debtor
    # (it needs a person to look at the bank's data).
    refused = [(i, r) for i, r in enumerate(recorded) if not r.outcome.accepted]
    conflicts = [(i, r) for i, r in refused if r.outcome is Outcome.CONFLICT]
    index, first = (conflicts or refused)[0]
    where = "" if single else f"[{index}]"
    if first.outcome is Outcome.CONFLICT:
        field = f"{where}.reference" if where else "reference"
        return _error(409, f"{field}: {first.detail}; nothing was recorded", field=field,
                      reference=first.reference)
    field = f"{where}.external_id" if where else "external_id"
    return _error(422, f"{field}: {first.detail}; nothing was recorded", field=field)


def webhook_for(settings: PaymentsSettings, pool: asyncpg.Pool | None) -> PaymentsWebhook:
    """The webhook over the daemon's settings (`[payments]`) and pool (None until open):
    `build_app(..., payments=lambda: webhook_for(settings.payments, daemon.pool))`."""
    from db.payments import PaymentRepository

    store = PaymentRepository(pool) if pool is not None else None
    return PaymentsWebhook(settings.webhook_token, store, settings.max_batch)
