"""`huilong promises remind`: one SMS per open promise shortly before its due date.

For each candidate (db.reminders) the debtor's local date decides whether it is due
(engine.followup.reminders.reminder_due); a promise the payments already cover is not
reminded (the pure settlement says so, nothing is written). The promise is claimed
before its SMS goes out, so it is sent at most once even with two runs at once or a
crash; the number is decrypted only to be handed to the gateway, and logs show it
masked. Sending is sequential: each send waits at most the gateway's timeout.

Every reminder goes through the compliance gate first, under the rules of the campaign
where the promise was made (a text message is a contact: calling hours in the debtor's
zone, do-not-call lists, opt-outs, cease and attorney flags all apply). It goes to the
first own number the gate allows now; when none is allowed the reminder is not claimed
and the next run tries again (`deferred`, with the gate's reason in the log).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby
from zoneinfo import ZoneInfo

import asyncpg

from db import reminders as store
from db.crypto import PiiCipher
from db.followup import covered_promises
from db.pool import connection
from engine.followup.reminders import reminder_due, reminder_text
from engine.followup.sms import SmsGateway, SmsMessage, SmsRejected, SmsUnreachable

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RemindReport:
    sent: int = 0
    failed: int = 0  # the gateway refused: tried again on the next run
    unknown: int = 0  # no answer: not tried again (it may have gone out)
    no_phone: int = 0
    already_paid: int = 0
    deferred: int = 0  # the gate said not now: the next run tries again


@dataclass(frozen=True, slots=True)
class ReminderPolicy:
    days_before: int
    grace_days: int
    sender: str = ""


async def send_reminders(pool: asyncpg.Pool, cipher: PiiCipher, gateway: SmsGateway,
                         policy: ReminderPolicy, *, as_of: date | None,
                         now: datetime) -> RemindReport:
    """Send the reminders due at `as_of` (each debtor's local date; default: `now` in
    their zone)."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    report = RemindReport()
    around = as_of or now.date()
    found = await store.candidates(pool, around=around, days_before=policy.days_before)
    for debtor_id, group in groupby(found, key=lambda c: c.debtor_id):
        due = _due(list(group), as_of, now, policy.days_before)
        if not due:
            continue
        zone = ZoneInfo(due[0].timezone)
        async with connection(pool) as conn:
            covered = await covered_promises(conn, debtor_id, zone,
                                             as_of or now.astimezone(zone).date(),
                                             policy.grace_days)
        for candidate in due:
            if candidate.promise_id in covered:
                report.already_paid += 1
                continue
            await _remind(pool, cipher, gateway, candidate, policy, now, report)
    return report


def _due(group: Sequence[store.Candidate], as_of: date | None, now: datetime,
         days_before: int) -> list[store.Candidate]:
    zone = ZoneInfo(group[0].timezone)
    today = as_of or now.astimezone(zone).date()
    return [c for c in group
            if reminder_due(due_date=c.due_date, created_on=c.created_at.astimezone(zone).date(),
                            today=today, days_before=days_before)]


async def _remind(pool: asyncpg.Pool, cipher: PiiCipher, gateway: SmsGateway,
                  candidate: store.Candidate, policy: ReminderPolicy, now: datetime,
                  report: RemindReport) -> None:
    promise_id = candidate.promise_id
    allowed = await _allowed_numbers(pool, cipher, candidate, now)
    if allowed is not None and not allowed.phone_ids:
        report.deferred += 1
        log.info("reminder for promise %d: not now (%s)", promise_id, allowed.why)
        return
    if not await store.claim(pool, promise_id, now):
        return  # another run has it, or it went out meanwhile
    phone = await store.own_phone(pool, cipher, candidate.debtor_id,
                                  None if allowed is None else allowed.phone_ids)
    if phone is None:
        await store.finish(pool, promise_id, "no_phone", now=now,
                           error="the debtor has no number of their own")
        report.no_phone += 1
        log.warning("reminder for promise %d: the debtor has no number of their own",
                    promise_id)
        return
    text = reminder_text(candidate.language, amount=candidate.amount,
                         currency=candidate.currency, due_date=candidate.due_date,
                         sender=policy.sender)
    message = SmsMessage(phone.number, text.text, store.reminder_reference(promise_id))
    try:
        await gateway.send(message)
    except SmsRejected as exc:
        await store.finish(pool, promise_id, "failed", now=now, phone_id=phone.id,
                           error=str(exc))
        report.failed += 1
        log.warning("reminder for promise %d to %s refused: %s", promise_id, phone.masked, exc)
        return
    except SmsUnreachable as exc:
        await store.finish(pool, promise_id, "unknown", now=now, phone_id=phone.id,
                           error=str(exc))
        report.unknown += 1
        log.warning("reminder for promise %d to %s: %s (not retried)", promise_id,
                    phone.masked, exc)
        return
    await store.finish(pool, promise_id, "sent", now=now, phone_id=phone.id)
    report.sent += 1
    log.info("reminder for promise %d sent to %s", promise_id, phone.masked)


@dataclass(frozen=True, slots=True)
class _Allowed:
    phone_ids: list[int]
    why: str


async def _allowed_numbers(pool: asyncpg.Pool, cipher: PiiCipher, candidate: store.Candidate,
                           now: datetime) -> _Allowed | None:
    """The debtor's own numbers the gate allows now; None when the debtor has no own
    number (the caller records that)."""
    from engine.eligibility import decide_numbers

    campaign_id = await store.promise_campaign(pool, candidate.promise_id)
    run = await decide_numbers(pool, cipher, candidate.debtor_id, campaign_id, now)
    own = [n for n in run.numbers if n.owner == "self"]
    if not own:
        return None
    allowed = [n.phone_id for n in own if n.decision.allowed]
    reasons = sorted({str(n.decision.reason) for n in own if not n.decision.allowed})
    return _Allowed(allowed, ", ".join(reasons))
