"""Reminders (pure): which day a promise is reminded, and the text in zh / en / ko."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from engine.followup.reminders import reminder_due, reminder_text

DUE = date(2024, 5, 10)


@pytest.mark.parametrize(
    ("today", "created_on", "days_before", "expected"),
    [
        (date(2024, 5, 8), date(2024, 5, 1), 1, False),  # too early
        (date(2024, 5, 9), date(2024, 5, 1), 1, True),  # the day before
        (date(2024, 5, 10), date(2024, 5, 1), 1, True),  # a missed run: the day itself
        (date(2024, 5, 11), date(2024, 5, 1), 1, False),  # past the date
        (date(2024, 5, 9), date(2024, 5, 9), 1, False),  # promised today: no reminder
        (date(2024, 5, 7), date(2024, 5, 1), 3, True),
        (date(2024, 5, 9), date(2024, 5, 1), 0, False),  # 0: only on the day
        (date(2024, 5, 10), date(2024, 5, 1), 0, True),
    ],
)
def test_reminder_day(today: date, created_on: date, days_before: int, expected: bool) -> None:
    """A promise due May 10, reminded `days_before` days ahead up to the day itself, and
    never on the day it was made."""
    assert reminder_due(due_date=DUE, created_on=created_on, today=today,
                        days_before=days_before) is expected


def test_negative_days_before_is_refused() -> None:
    with pytest.raises(ValueError, match="days_before"):
        reminder_due(due_date=DUE, created_on=DUE, today=DUE, days_before=-1)


@pytest.mark.parametrize(
    ("language", "currency", "sender", "expected"),
    [
        ("zh", "CNY", "回笼银行",
         "【回笼银行】温馨提示：您约定于2024年5月10日还款1,200.50元。如已还款，请忽略本短信。谢谢！"),
        ("en", "USD", "",
         "Reminder: you arranged to pay 1,200.50 USD on 2024-05-10. If you have already paid, "
         "please ignore this message. Thank you."),
        ("ko", "KRW", "Bank",
         "[Bank] 안내: 2024년 5월 10일에 1,200.50원 납부를 약속하셨습니다. "
         "이미 납부하셨다면 이 메시지는 무시해 주세요. 감사합니다."),
        ("fr", "EUR", "",
         "Reminder: you arranged to pay 1,200.50 EUR on 2024-05-10. If you have already paid, "
         "please ignore this message. Thank you."),
    ],
)
def test_text_per_language(language: str, currency: str, sender: str, expected: str) -> None:
    """The amount (2 decimals, grouped) and the date as the language writes them; a
    language without a template gets English."""
    text = reminder_text(language, amount=Decimal("1200.5"), currency=currency,
                         due_date=DUE, sender=sender)
    assert text.text == expected
    assert text.language == (language if language != "fr" else "en")


def test_bad_amount_or_sender_is_refused() -> None:
    with pytest.raises(ValueError, match="amount"):
        reminder_text("zh", amount=Decimal(0), currency="CNY", due_date=DUE)
    with pytest.raises(ValueError, match="sender"):
        reminder_text("zh", amount=Decimal(1), currency="CNY", due_date=DUE, sender="x" * 41)
