"""Turning database records into the gate's inputs (no database: records built here)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from db.crypto import PiiCipher
from db.debtors import PHONE_PURPOSE
from db.eligibility import CampaignRecord, DebtorRecord, Listing, PhoneRecord
from engine.compliance.model import GLOBAL_LIST
from engine.eligibility import _expiries, campaign_policy, debtor_facts

CIPHER = PiiCipher({"k1": os.urandom(32)}, "k1", os.urandom(32))


def phone(phone_id: int, e164: str, owner: str = "self") -> PhoneRecord:
    blob, key_id = CIPHER.encrypt(e164, purpose=PHONE_PURPOSE)
    return PhoneRecord(phone_id, f"key{phone_id}", owner, "masked", blob, key_id)


def debtor(phones: tuple[PhoneRecord, ...], listings: tuple[Listing, ...] = (),
           timezone: str = "America/Los_Angeles") -> DebtorRecord:
    return DebtorRecord(
        id=7, external_id="X", timezone=timezone, region="US", opted_out=False, cease=False,
        attorney=True, consent_until=None,
        inconvenient=[{"weekday": 0, "start": "12:00", "end": "13:30"}], segment=None,
        strategy=None, priority=None, phones=phones, listings=listings, history=())


def test_us_debtor_gets_every_zone_its_own_numbers_point_at():
    """Steps: a debtor living in Los Angeles with a New York mobile and a third party's
    Chicago number, under the US pack and then without it.
    Expected: US → (Los Angeles, New York): the address zone first, then the area code's;
    the third party's number adds nothing; without the US pack only the debtor's zone."""
    record = debtor((phone(1, "+12125550123"), phone(2, "+13125550123", "third_party")))
    facts = debtor_facts(record, CIPHER, every_plausible_zone=True)
    assert facts.timezones == ("America/Los_Angeles", "America/New_York")
    assert facts.own_number_keys == frozenset({"key1"})
    assert facts.attorney is True
    assert facts.inconvenient[0].weekday == 0 and facts.inconvenient[0].end.minute == 30
    only_home = debtor_facts(record, CIPHER, every_plausible_zone=False)
    assert only_home.timezones == ("America/Los_Angeles",)


def test_listings_on_the_debtor_and_their_expiry():
    """Steps: the debtor is on the global list twice (one entry expiring, one not) and
    on a campaign list until a date; a number-only listing is also present.
    Expected: debtor-level lists only; 'global' never expires (one entry has no end);
    the campaign list expires at its date."""
    until = datetime(2027, 1, 1, tzinfo=UTC)
    listings = (Listing(GLOBAL_LIST, None, until), Listing(GLOBAL_LIST, None, None),
                Listing("spring", None, until), Listing("spring", "key1", None))
    facts = debtor_facts(debtor((phone(1, "+12125550123"),), listings), CIPHER,
                         every_plausible_zone=False)
    assert facts.on_lists == frozenset({GLOBAL_LIST, "spring"})
    assert dict(facts.list_expiry) == {"spring": until}
    assert _expiries([]) == {}


def test_campaign_policy_reads_packs_and_overrides():
    """Steps: campaigns with no settings, an explicit empty pack list, and US+UK with
    consent and an override. Expected: CN by default; [] means no country pack; the
    rest carried over, with the campaign's own DNC lists."""
    assert campaign_policy(None).packs == ("CN",)
    assert campaign_policy(CampaignRecord(1, {}, frozenset())).packs == ("CN",)
    assert campaign_policy(CampaignRecord(1, {"packs": []}, frozenset())).packs == ()
    policy = campaign_policy(CampaignRecord(
        2, {"packs": ["US", "UK"], "requires_consent": True,
            "pack_overrides": {"US": {"avoid_holidays": True}}}, frozenset({"spring"})))
    assert policy.packs == ("US", "UK") and policy.requires_consent
    assert policy.dnc_lists == frozenset({"spring"})
    assert policy.overrides == {"US": {"avoid_holidays": True}}
