"""`POST /payments` in the daemon's app, over a real local socket, against a scripted
store: the bearer token, validation naming the field, exact money, replays as
"duplicate", all-or-nothing refusals (409 conflict, 422 unknown debtor), 503 when not
configured. The real store is tested against PostgreSQL in
tests/integration/test_payments_db.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from db.errors import DatabaseUnavailable
from db.payments import BatchResult, NewPayment, Outcome, Recorded
from engine.http_api import Health, build_app
from engine.payments_api import PaymentsWebhook

TOKEN = "s3cret-token-of-the-bank"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PAYMENT = {"reference": "TX-1", "external_id": "A1", "amount": 120.5,
           "paid_at": "2024-05-01T10:00:00+08:00"}


@dataclass
class ScriptedStore:
    """Answers `outcomes[reference]` (default created); records what it was given."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    batches: list[list[NewPayment]] = field(default_factory=list)
    fail: bool = False

    async def record_batch(self, payments: Sequence[NewPayment]) -> BatchResult:
        if self.fail:
            raise DatabaseUnavailable("connection lost")
        self.batches.append(list(payments))
        recorded = tuple(
            Recorded(p.reference, self.outcomes.get(p.reference, Outcome.CREATED), n + 1,
                     "reference already recorded (payment 1) with another amount"
                     if self.outcomes.get(p.reference) is Outcome.CONFLICT
                     else "no debtor with this external_id")
            for n, p in enumerate(payments))
        return BatchResult(recorded, all(r.outcome.accepted for r in recorded))


@dataclass
class Wiring:
    webhook: PaymentsWebhook | None


@pytest.fixture
def store() -> ScriptedStore:
    return ScriptedStore()


@pytest.fixture
def wiring(store: ScriptedStore) -> Wiring:
    return Wiring(PaymentsWebhook(SecretStr(TOKEN), store, max_batch=3))


@pytest.fixture
async def client(wiring: Wiring) -> AsyncIterator[TestClient]:
    health = Health(True, True, True, False, 0, {})
    app = build_app(lambda: health, payments=lambda: wiring.webhook)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_one_payment_is_recorded_with_exact_money(client: TestClient,
                                                        store: ScriptedStore) -> None:
    """Steps: POST one payment whose amount is the JSON number 120.5.
    Expected: 201 {"reference", "status": "created", "payment_id"}; the store got
    Decimal('120.50') and the instant in UTC."""
    response = await client.post("/payments", json=PAYMENT, headers=AUTH)
    assert response.status == 201
    assert await response.json() == {"reference": "TX-1", "status": "created", "payment_id": 1}
    (payment,) = store.batches[0]
    assert payment.amount == Decimal("120.50") and isinstance(payment.amount, Decimal)
    assert payment.paid_at is not None and payment.paid_at.isoformat() == (
        "2024-05-01T02:00:00+00:00")


async def test_a_replay_answers_200_duplicate(client: TestClient, store: ScriptedStore) -> None:
    """Steps: the store has TX-1 already. Expected: 200 with status "duplicate"."""
    store.outcomes["TX-1"] = Outcome.DUPLICATE
    response = await client.post("/payments", json=PAYMENT, headers=AUTH)
    assert response.status == 200
    assert (await response.json())["status"] == "duplicate"


async def test_a_list_answers_each_in_order(client: TestClient, store: ScriptedStore) -> None:
    """Steps: POST a list of a new payment and a replayed one (a date-only paid_at).
    Expected: 201 {"results": [created, duplicate]}; the date kept for the debtor's zone."""
    store.outcomes["TX-2"] = Outcome.DUPLICATE
    second = {**PAYMENT, "reference": "TX-2", "paid_at": "2024-05-01", "currency": "cny"}
    response = await client.post("/payments", json=[PAYMENT, second], headers=AUTH)
    assert response.status == 201
    body = await response.json()
    assert [r["status"] for r in body["results"]] == ["created", "duplicate"]
    assert store.batches[0][1].paid_on is not None and store.batches[0][1].currency == "CNY"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**PAYMENT, "amount": "-1"}, "amount", "must not be negative"),
        ({**PAYMENT, "amount": 1.005}, "amount", "2 decimal places"),
        ({**PAYMENT, "paid_at": "2024-05-01T10:00:00"}, "paid_at", "no UTC offset"),
        ({**PAYMENT, "colour": "red"}, "colour", "Extra inputs"),
        ({k: v for k, v in PAYMENT.items() if k != "reference"}, "reference", "is required"),
        ([PAYMENT, {**PAYMENT, "reference": "TX-9", "external_id": ""}], "[1].external_id",
         "is required"),
        ([PAYMENT, PAYMENT], "[1].reference", "appears twice"),
        ([PAYMENT, 5], "[1]", "must be an object"),
        ([], "body", "non-empty list"),
        ("TX-1", "body", "one payment object"),
    ],
)
async def test_invalid_input_is_422_naming_the_field(client: TestClient, store: ScriptedStore,
                                                     body: object, field: str,
                                                     words: str) -> None:
    """Expected: 422 {"error": …, "field": …}; the store is not asked."""
    response = await client.post("/payments", json=body, headers=AUTH)
    assert response.status == 422
    answer = await response.json()
    assert answer["field"] == field
    assert words in answer["error"]
    assert store.batches == []


async def test_a_conflict_is_409_and_nothing_is_recorded(client: TestClient,
                                                         store: ScriptedStore) -> None:
    """Steps: a list whose second reference the store has with another amount.
    Expected: 409 naming [1].reference; "nothing was recorded"."""
    store.outcomes["TX-2"] = Outcome.CONFLICT
    response = await client.post("/payments", headers=AUTH,
                                 json=[PAYMENT, {**PAYMENT, "reference": "TX-2"}])
    assert response.status == 409
    answer = await response.json()
    assert answer["field"] == "[1].reference" and answer["reference"] == "TX-2"
    assert "another amount" in answer["error"] and "nothing was recorded" in answer["error"]


async def test_an_unknown_debtor_is_422(client: TestClient, store: ScriptedStore) -> None:
    store.outcomes["TX-1"] = Outcome.UNKNOWN_DEBTOR
    response = await client.post("/payments", json=PAYMENT, headers=AUTH)
    assert response.status == 422
    assert (await response.json())["field"] == "external_id"


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-of-the-bank", f"Basic {TOKEN}",
                                    "Bearer "])
async def test_without_the_token_401(client: TestClient, store: ScriptedStore,
                                     header: str | None) -> None:
    """Expected: 401 with a Bearer challenge; the body is not even read."""
    headers = {} if header is None else {"Authorization": header}
    response = await client.post("/payments", json=PAYMENT, headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert store.batches == []


async def test_not_configured_or_not_ready_is_503(client: TestClient, wiring: Wiring) -> None:
    """Steps: no webhook at all; a webhook without a token; one without a store yet.
    Expected: 503 each, saying which."""
    wiring.webhook = None
    assert (await client.post("/payments", json=PAYMENT, headers=AUTH)).status == 503
    wiring.webhook = PaymentsWebhook(None, ScriptedStore())
    response = await client.post("/payments", json=PAYMENT, headers=AUTH)
    assert response.status == 503 and "not configured" in (await response.json())["error"]
    wiring.webhook = PaymentsWebhook(SecretStr(TOKEN), None)
    response = await client.post("/payments", json=PAYMENT, headers=AUTH)
    assert response.status == 503 and "not ready" in (await response.json())["error"]


async def test_bad_json_too_many_and_database_down(client: TestClient,
                                                   store: ScriptedStore) -> None:
    """Steps: a body that is not JSON; 4 payments (the limit is 3); the store failing.
    Expected: 400, 413, 503."""
    response = await client.post("/payments", data=b"{not json", headers=AUTH)
    assert response.status == 400
    many = [{**PAYMENT, "reference": f"TX-{n}"} for n in range(4)]
    assert (await client.post("/payments", json=many, headers=AUTH)).status == 413
    store.fail = True
    assert (await client.post("/payments", json=PAYMENT, headers=AUTH)).status == 503
