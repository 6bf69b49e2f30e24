"""The gate's inputs read from a real database: a US debtor whose number and address
are in different zones (Regulation F: the window must hold in both)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from db.campaigns import CampaignRepository
from db.crypto import load_or_create_keyfile
from db.debtors import DebtInput, DebtorRepository
from db.targets import Target
from engine.eligibility import EligibilityChecker

LA = ZoneInfo("America/Los_Angeles")


async def test_us_window_holds_in_the_address_zone_and_the_area_code_zone(db_pool, tmp_path):
    """Steps: a debtor living in Los Angeles whose mobile is a New York number; a US-rules
    campaign; ask the checker at 10:00, 06:30 and 18:30 Los Angeles time.
    Expected: 10:00 LA (13:00 NY) allowed on that number; 06:30 LA denied
    (us.calling_window) until 08:00 LA; 18:30 LA (21:30 NY) denied until 08:00 LA the
    next morning — the later of the two zones' windows."""
    cipher = load_or_create_keyfile(tmp_path / "keys.json")
    debtors = DebtorRepository(db_pool, cipher)
    debtor_id = await debtors.upsert_debtor(
        external_id="US-1", name="Pat Doe", phones=["+12125550123"],
        timezone="America/Los_Angeles", debts=[DebtInput("C1", Decimal("90.00"),
                                                         Decimal("90.00"))])
    phone = (await debtors.phones_of(debtor_id))[0]
    campaign_id = await CampaignRepository(db_pool).create("us", "hold", {"packs": ["US"]})
    target = Target(id=1, campaign_id=campaign_id, debtor_id=debtor_id, phone_id=phone.id)

    async def ask(hour: int, minute: int = 0, day: int = 10):
        at = datetime(2026, 6, day, hour, minute, tzinfo=LA)
        return await EligibilityChecker(db_pool, cipher, clock=lambda: at)(target)

    morning = await ask(10)
    assert morning.allowed and morning.phone_id == phone.id
    assert morning.decision["inputs"]["timezones"] == ["America/Los_Angeles",
                                                       "America/New_York"]
    early = await ask(6, 30)
    assert not early.allowed
    assert early.decision["numbers"][0]["reason"] == "us.calling_window"
    assert early.until == datetime(2026, 6, 10, 8, 0, tzinfo=LA)
    evening = await ask(18, 30)
    assert not evening.allowed
    assert evening.until == datetime(2026, 6, 11, 8, 0, tzinfo=LA)
