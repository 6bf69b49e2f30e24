"""The gate as a whole: rules that apply everywhere, reason codes, strictest wins,
next_allowed_at, explain, and loading rule packs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.compliance import (
    CampaignPolicy,
    ContactAttempt,
    DebtorFacts,
    InconvenientWindow,
    NumberFacts,
    PackConfigError,
    Reason,
    decide,
    explain,
    load_packs,
)
from engine.compliance.gate import strictest
from engine.compliance.rules_common import Denial

# 2024-05-08 is a Wednesday; 10:00 in Shanghai = 02:00 UTC.
NOON_ISH = datetime(2024, 5, 8, 2, tzinfo=UTC)
CN = CampaignPolicy(campaign_id=1, packs=("CN",), dnc_lists=frozenset({"campaign:1"}))
NUMBER = NumberFacts("n-1")


def debtor(**changes: object) -> DebtorFacts:
    base: dict[str, object] = {"debtor_id": 1, "timezones": ("Asia/Shanghai",), "region": "CN",
                               "own_number_keys": frozenset({"n-1"})}
    return DebtorFacts(**{**base, **changes})  # type: ignore[arg-type]


EXPIRY = NOON_ISH + timedelta(days=2)
REASON_TABLE = [
    ("dnc global", debtor(), NumberFacts("n-1", on_lists=frozenset({"global"})), CN,
     Reason.DNC, None),
    ("dnc campaign, expiring", debtor(),
     NumberFacts("n-1", on_lists=frozenset({"campaign:1"}),
                 list_expiry=MappingProxyType({"campaign:1": EXPIRY})), CN, Reason.DNC, EXPIRY),
    ("debtor on global list", debtor(on_lists=frozenset({"global"})), NUMBER, CN,
     Reason.DNC, None),
    ("opted out", debtor(opted_out=True), NUMBER, CN, Reason.OPT_OUT, None),
    ("no consent", debtor(), NUMBER,
     CampaignPolicy(packs=("CN",), requires_consent=True), Reason.NO_CONSENT, None),
    ("consent expired", debtor(consent_until=NOON_ISH), NUMBER,
     CampaignPolicy(packs=("CN",), requires_consent=True), Reason.NO_CONSENT, None),
    ("inconvenient", debtor(inconvenient=(InconvenientWindow(2, time(9), time(11)),)), NUMBER,
     CN, Reason.INCONVENIENT_TIME, datetime(2024, 5, 8, 3, tzinfo=UTC)),
    ("holiday: National Day", debtor(), NUMBER, CN, Reason.HOLIDAY,
     datetime(2024, 10, 5, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize(("case", "d", "n", "policy", "reason", "until"), REASON_TABLE,
                         ids=[row[0] for row in REASON_TABLE])
def test_reason_codes(case: str, d: DebtorFacts, n: NumberFacts, policy: CampaignPolicy,
                      reason: Reason, until: datetime | None) -> None:
    """Steps: one fact that denies (see the case id), decided at 10:00 Shanghai on a
    Wednesday (the holiday case: 10:00 on 2024-10-02).
    Expected: that reason code and `until` (None = never; an expiring listing until its
    expiry; the holiday (1–4 Oct) until 08:00 on 5 Oct, the first instant after it
    outside the quiet hours; the window until its end)."""
    now = datetime(2024, 10, 2, 2, tzinfo=UTC) if reason is Reason.HOLIDAY else NOON_ISH
    decision = decide(d, n, policy, [], now)
    assert not decision.allowed
    assert decision.reason is reason
    assert decision.until == until


def test_lists_that_do_not_apply_or_expired_are_ignored() -> None:
    """Steps: number on another campaign's list; number on an expired listing; consent
    valid in the future.
    Expected: allowed in all three."""
    other = NumberFacts("n-1", on_lists=frozenset({"campaign:9"}))
    expired = NumberFacts("n-1", on_lists=frozenset({"global"}),
                          list_expiry=MappingProxyType({"global": NOON_ISH}))
    assert decide(debtor(), other, CN, [], NOON_ISH).allowed
    assert decide(debtor(), expired, CN, [], NOON_ISH).allowed
    consenting = debtor(consent_until=NOON_ISH + timedelta(seconds=1))
    assert decide(consenting, NUMBER, CampaignPolicy(requires_consent=True), [], NOON_ISH).allowed


@settings(max_examples=200, deadline=None)
@given(untils=st.lists(st.one_of(st.none(), st.integers(1, 10_000)), min_size=1, max_size=6))
def test_strictest_wins(untils: list[int | None]) -> None:
    """Steps: any set of denials with random untils (None = never).
    Expected: None if any is None, else the latest until; on ties the first."""
    denials = [Denial(Reason.DNC, None if u is None else NOON_ISH + timedelta(minutes=u), str(i))
               for i, u in enumerate(untils)]
    chosen = strictest(denials)
    if None in untils:
        assert chosen.until is None and chosen.detail == str(untils.index(None))
    else:
        latest = max(u for u in untils if u is not None)
        assert chosen.detail == str(untils.index(latest))


def test_deny_beats_allow_and_until_settles_past_every_rule() -> None:
    """Steps: CN + US packs for a New York debtor at 21:30 EDT (outside the US window,
    inside the CN one), 7 calls about the debt in the last 7 days.
    Expected: denied; us.seven_in_seven is strictest (latest until) and both denials
    are in the details; `until` is not before the rule's own until and is an instant
    where neither pack denies."""
    policy = CampaignPolicy(packs=("CN", "US"), debt_ref="D")
    d = debtor(timezones=("America/New_York",), region="US")
    now = datetime(2024, 10, 2, 1, 30, tzinfo=UTC)
    history = [ContactAttempt(now - timedelta(hours=13 + 24 * i), "n-1", "D") for i in range(7)]
    decision = decide(d, NUMBER, policy, history, now)
    assert decision.reason is Reason.US_SEVEN_IN_SEVEN
    assert decision.until is not None and decision.until >= history[-1].at + timedelta(days=7)
    assert decide(d, NUMBER, policy, history, decision.until).allowed
    assert {"us.calling_window", "us.seven_in_seven"} <= {
        line.split(":")[0] for line in decision.details}


def test_next_allowed_at_accounts_for_this_attempt() -> None:
    """Steps: 5 unanswered attempts today, ask at 20:00 Shanghai; then with none.
    Expected: allowed; next_allowed_at = 08:00 tomorrow (this 6th attempt fills the
    cap); with no history next_allowed_at = now (no spacing rule in CN)."""
    history = [ContactAttempt(datetime(2024, 5, 8, 1 + i, tzinfo=UTC), "n-1") for i in range(5)]
    now = datetime(2024, 5, 8, 12, tzinfo=UTC)
    decision = decide(debtor(), NUMBER, CN, history, now)
    assert decision.allowed and decision.next_allowed_at == datetime(2024, 5, 9, 0, tzinfo=UTC)
    assert decide(debtor(), NUMBER, CN, [], now).next_allowed_at == now


def test_explain_is_one_line() -> None:
    """Steps: explain a quiet-hours denial, a permanent denial and an allow.
    Expected: single lines naming the reason code and the time (or 'never')."""
    quiet = explain(decide(debtor(), NUMBER, CN, [], datetime(2024, 5, 8, 15, tzinfo=UTC)))
    assert quiet.startswith("denied (cn.quiet_hours") and "2024-05-09 00:00:00 UTC" in quiet
    never = explain(decide(debtor(opted_out=True), NUMBER, CN, [], NOON_ISH))
    assert "opt_out" in never and never.endswith("never allowed")
    assert explain(decide(debtor(), NUMBER, CN, [], NOON_ISH)).startswith("allowed")
    assert all("\n" not in line for line in (quiet, never))


def test_campaign_overrides_apply() -> None:
    """Steps: override the CN cap to 2 for the campaign; 2 unanswered attempts today.
    Expected: cn.number_daily_cap."""
    policy = CampaignPolicy(packs=("CN",),
                            overrides={"CN": {"max_unanswered_per_number_per_day": 2}})
    history = [ContactAttempt(datetime(2024, 5, 8, 1, tzinfo=UTC), "n-1"),
               ContactAttempt(datetime(2024, 5, 8, 1, 30, tzinfo=UTC), "n-1")]
    assert decide(debtor(), NUMBER, policy, history, NOON_ISH).reason is Reason.CN_NUMBER_DAILY_CAP


def test_load_packs_reads_toml_shape() -> None:
    """Steps: load {CN: {version, window_start "08:30", cap 5}, US: {avoid_holidays true}}.
    Expected: those values set, the rest from the versioned defaults."""
    packs = load_packs({"CN": {"version": "CN_2024", "window_start": "08:30",
                               "max_unanswered_per_number_per_day": 5},
                        "US": {"avoid_holidays": True}})
    assert packs.cn.window_start == time(8, 30) and packs.cn.max_unanswered_per_number_per_day == 5
    assert packs.cn.window_end == time(22) and packs.us.avoid_holidays


@pytest.mark.parametrize(("mapping", "key"), [
    ({"XX": {}}, "compliance.XX"),
    ({"CN": {"nope": 1}}, "compliance.CN.nope"),
    ({"CN": {"window_start": "8 o'clock"}}, "compliance.CN.window_start"),
    ({"CN": {"max_unanswered_per_number_per_day": "6"}},
     "compliance.CN.max_unanswered_per_number_per_day"),
    ({"CN": {"max_unanswered_per_number_per_day": 0}}, "compliance.CN"),
    ({"US": {"version": "US_1999"}}, "compliance.US.version"),
    ({"UK": 3}, "compliance.UK"),
])
def test_load_packs_errors_name_the_key(mapping: dict[str, object], key: str) -> None:
    """Steps: load an invalid pack mapping (unknown pack, parameter, bad type, bad
    value, unknown version, not a table).
    Expected: PackConfigError whose message starts with the offending key."""
    with pytest.raises(PackConfigError) as raised:
        load_packs(mapping)
    assert str(raised.value).startswith(key)


def test_invalid_inputs_are_rejected() -> None:
    """Steps: a naive `now`; an unknown pack name; a debtor without zones.
    Expected: ValueError each time."""
    with pytest.raises(ValueError, match="aware"):
        decide(debtor(), NUMBER, CN, [], datetime(2024, 5, 8, 10))
    with pytest.raises(ValueError, match="unknown rule pack"):
        CampaignPolicy(packs=("FR",))
    with pytest.raises(ValueError, match="time zone"):
        debtor(timezones=())
