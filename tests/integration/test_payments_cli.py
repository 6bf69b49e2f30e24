"""The follow-up commands as an operator runs them (PostgreSQL, no Asterisk): import
debtors, import payments (twice, and an unreadable file), settle promises as of a
simulated date (twice), send reminders through a local stand-in for the SMS gateway."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tests.integration.labkit import cli_runner
from tests.sms_stand_in import SmsStandIn, serving

DEBTORS = ("external_id,name,phone,amount_due,overdue_days,timezone\n"
           "L-1,王小明,13800001111,800.00,3,Asia/Shanghai\n"
           "L-2,李四,13800002222,2400.00,20,Asia/Shanghai\n")
PAYMENTS = ("reference,external_id,amount,currency,paid_at\n"
            "BK-1,L-1,300.00,CNY,2024-04-25T10:00:00+08:00\n"
            "BK-2,L-1,abc,CNY,2024-04-26\n"
            "BK-3,L-9,10.00,CNY,2024-04-26\n")


@pytest.fixture
def huilong(call_db, tmp_path):
    return cli_runner(call_db[0], tmp_path)


async def promise(pool, external_id: str, due: date, amount: str) -> None:
    """A promise as the bot or an agent leaves it (on a finished call, made Apr 20)."""
    debtor_id, phone_id = await pool.fetchrow(
        "SELECT d.id, p.id FROM debtors d JOIN debtor_phones p ON p.debtor_id = d.id"
        " WHERE d.external_id = $1", external_id)
    attempt_id = uuid.uuid4()
    made = datetime(2024, 4, 20, 6, 0, tzinfo=UTC)
    await pool.execute(
        "INSERT INTO attempts (id, debtor_id, phone_id, state, disposition, ended_at)"
        " VALUES ($1, $2, $3, 'final', 'answered', $4)", attempt_id, debtor_id, phone_id, made)
    await pool.execute(
        "INSERT INTO promises (debtor_id, attempt_id, amount, currency, due_date,"
        " follow_up_at, created_at) VALUES ($1, $2, $3, 'CNY', $4, $5, $5)",
        debtor_id, attempt_id, Decimal(amount), due, made)


async def test_import_then_settle_a_day_later(huilong, pool, tmp_path) -> None:
    """Steps: import 2 debtors; L-1 promised 300 by May 1, L-2 500 by May 1; import a
    payments file (1 good row, a bad amount, an unknown debtor) twice; settle as of May 2
    (grace 2: still open), then May 4, then May 4 again.
    Expected: payments 1 new / 2 rejected, then 0 new / 1 already recorded; the rejects
    file names amount and external_id; on May 2 L-1 kept early, L-2 open; on May 4 L-2
    broken and re-queued, the segmentation re-run; the last run changes nothing."""
    debtors = tmp_path / "debtors.csv"
    debtors.write_text(DEBTORS, encoding="utf-8")
    assert (await huilong("import", "debtors", str(debtors))).returncode == 0
    await promise(pool, "L-1", date(2024, 5, 1), "300")
    await promise(pool, "L-2", date(2024, 5, 1), "500")

    payments = tmp_path / "payments.csv"
    payments.write_bytes(("\ufeff" + PAYMENTS).encode("utf-8"))
    first = await huilong("import", "payments", str(payments))
    assert first.returncode == 0, first.stderr
    assert ("1 new, 0 already recorded, 2 rejected (0 conflicting references, 1 unknown "
            "debtors)") in first.stdout
    rejects = (tmp_path / "payments.csv.rejects.csv").read_text(encoding="utf-8-sig")
    assert "3,amount," in rejects and "4,external_id,no debtor" in rejects
    again = await huilong("import", "payments", str(payments))
    assert "0 new, 1 already recorded, 2 rejected" in again.stdout

    early = await huilong("promises", "settle", "--as-of", "2024-05-02")
    assert early.returncode == 0, early.stderr
    assert "1 kept, 0 partly kept, 0 broken" in early.stdout
    late = await huilong("promises", "settle", "--as-of", "2024-05-04")
    assert "0 kept, 0 partly kept, 1 broken" in late.stdout
    assert "segmentation: " in late.stdout
    statuses = await pool.fetch("SELECT d.external_id, p.status FROM promises p"
                                " JOIN debtors d ON d.id = p.debtor_id ORDER BY 1")
    assert [(r["external_id"], r["status"]) for r in statuses] == [
        ("L-1", "kept"), ("L-2", "broken")]
    assert await pool.fetchval("SELECT count(*) FROM followups WHERE kind = 'broken_promise'"
                               " AND status = 'open'") == 1
    repeat = await huilong("promises", "settle", "--as-of", "2024-05-04")
    assert "0 debtors with open promises; 0 kept, 0 partly kept, 0 broken" in repeat.stdout


async def test_bad_input_exits_2(huilong, pool, tmp_path) -> None:
    """Steps: import a payments file lacking columns; settle with a bad date and with a
    negative grace; remind without an SMS gateway configured.
    Expected: exit 2 each, saying why, no traceback; nothing written."""
    headless = tmp_path / "headless.csv"
    headless.write_text("reference,amount\nX,1\n", encoding="utf-8")
    result = await huilong("import", "payments", str(headless))
    assert result.returncode == 2 and "external_id" in result.stderr
    for args, words in ((("--as-of", "May 4"), "not a date"),
                        (("--grace-days", "-1"), "--grace-days")):
        result = await huilong("promises", "settle", *args)
        assert result.returncode == 2 and words in result.stderr
    result = await huilong("promises", "remind")
    assert result.returncode == 2 and "followup.sms_url" in result.stderr
    for output in (result.stderr, result.stdout):
        assert "Traceback" not in output
    assert await pool.fetchval("SELECT count(*) FROM payments") == 0


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[SmsStandIn, str]]:
    fake = SmsStandIn()
    async with serving(fake) as url:
        yield fake, url


async def test_remind_sends_once_and_fails_loudly(huilong, pool, tmp_path, gateway) -> None:
    """Steps: L-1 promised 300 by May 10, L-2 500 by May 10; the gateway refuses the
    first message (500); remind as of May 9; then again.
    Expected: first run exit 1 (1 sent, 1 refused), no number in clear in the output;
    second run exit 0 with the refused one sent; each debtor got exactly one SMS."""
    fake, url = gateway
    debtors = tmp_path / "debtors.csv"
    debtors.write_text(DEBTORS, encoding="utf-8")
    assert (await huilong("import", "debtors", str(debtors))).returncode == 0
    await promise(pool, "L-1", date(2024, 5, 10), "300")
    await promise(pool, "L-2", date(2024, 5, 10), "500")
    env = {"HUILONG_FOLLOWUP__SMS_URL": url, "HUILONG_FOLLOWUP__SMS_TOKEN": "x" * 24}
    fake.statuses.append(500)
    # The gate judges the moment: 10:00 in Shanghai, inside the CN calling window.
    at = ("--at", "2024-05-09T10:00+08:00")
    first = await huilong("promises", "remind", "--as-of", "2024-05-09", *at, **env)
    assert first.returncode == 1, first.stderr
    assert "1 sent, 1 refused by the gateway" in first.stdout
    assert "13800001111" not in first.stderr + first.stdout
    second = await huilong("promises", "remind", "--as-of", "2024-05-09", *at, **env)
    assert second.returncode == 0, second.stderr
    assert "1 sent, 0 refused" in second.stdout
    # The refused one was posted twice (refused, then sent), the other once.
    counts = Counter(m["to"] for m in fake.received)
    assert set(counts) == {"+8613800001111", "+8613800002222"}
    assert sorted(counts.values()) == [1, 2]
