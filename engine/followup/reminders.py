"""Reminders before a promised date: who gets one, and what it says. Pure.

A promise is reminded once, by SMS, from `days_before` days before its due date up to the
due date itself (so a missed run still reminds on a later day), when it was made before
the reminder day (a promise made today needs no reminder today) and the payments so far
do not already cover it. The text names the amount and the date in the debtor's
language (zh, en, ko), says how to ignore it if already paid, and threatens nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

LANGUAGES = ("zh", "en", "ko")
MAX_SENDER_CHARS = 40

_TEMPLATES = {
    "zh": "{sender}温馨提示：您约定于{day}还款{money}。如已还款，请忽略本短信。谢谢！",
    "en": "{sender}Reminder: you arranged to pay {money} on {day}. "
    "If you have already paid, please ignore this message. Thank you.",
    "ko": "{sender}안내: {day}에 {money} 납부를 약속하셨습니다. "
    "이미 납부하셨다면 이 메시지는 무시해 주세요. 감사합니다.",
}


@dataclass(frozen=True, slots=True)
class ReminderText:
    language: str
    text: str


def reminder_due(*, due_date: date, created_on: date, today: date, days_before: int) -> bool:
    """Whether an open, not yet reminded, not yet covered promise is reminded `today`
    (all dates the debtor's local dates)."""
    if days_before < 0:
        raise ValueError(f"days_before must be >= 0, got {days_before}")
    return created_on < today and due_date - timedelta(days=days_before) <= today <= due_date


def reminder_text(
    language: str, *, amount: Decimal, currency: str, due_date: date, sender: str = ""
) -> ReminderText:
    """The SMS in the debtor's language (English for a language without a template)."""
    language = language if language in _TEMPLATES else "en"
    if len(sender) > MAX_SENDER_CHARS:
        raise ValueError(f"sender is longer than {MAX_SENDER_CHARS} characters")
    text = _TEMPLATES[language].format(
        sender=_signature(language, sender.strip()),
        day=_day(language, due_date),
        money=_money(language, amount, currency),
    )
    return ReminderText(language, text)


def _signature(language: str, sender: str) -> str:
    if not sender:
        return ""
    return f"【{sender}】" if language == "zh" else f"[{sender}] "


def _day(language: str, day: date) -> str:
    match language:
        case "zh":
            return f"{day.year}年{day.month}月{day.day}日"
        case "ko":
            return f"{day.year}년 {day.month}월 {day.day}일"
    return day.isoformat()


def _money(language: str, amount: Decimal, currency: str) -> str:
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"amount must be positive, got {amount}")
    figure = f"{amount.quantize(Decimal('0.01')):,}"
    if language == "zh" and currency == "CNY":
        return f"{figure}元"
    if language == "ko" and currency == "KRW":
        return f"{figure}원"
    return f"{figure} {currency}"
