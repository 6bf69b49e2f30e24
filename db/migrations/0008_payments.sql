-- 0008: payments from the core bank (a file or its webhook), how they settle promises,
-- the follow-up queue a broken promise feeds, and the reminders sent before a due date.

-- One row per payment, keyed by the bank's own reference: a replayed file or webhook
-- finds the reference and writes nothing; the same reference with other content is
-- refused, never overwritten (the first word stays, a disagreement is for a person).
CREATE TABLE payments (
    id            bigserial PRIMARY KEY,
    debtor_id     bigint NOT NULL REFERENCES debtors (id),
    reference     text NOT NULL UNIQUE CHECK (reference <> ''),
    amount        numeric(14, 2) NOT NULL CHECK (amount > 0),
    currency      text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    paid_at       timestamptz NOT NULL,
    source        text NOT NULL CHECK (source IN ('file', 'api')),
    received_at   timestamptz NOT NULL DEFAULT now(),
    import_run_id bigint REFERENCES import_runs (id),
    CHECK ((source = 'file') = (import_run_id IS NOT NULL))
);
CREATE INDEX payments_debtor_paid_idx ON payments (debtor_id, paid_at);

-- What a settled promise was paid with. Written once, when the promise is settled: a
-- payment's remainder (amount minus its rows here) is what later promises can use, so
-- no payment is ever counted twice.
CREATE TABLE promise_settlements (
    promise_id  bigint NOT NULL REFERENCES promises (id),
    payment_id  bigint NOT NULL REFERENCES payments (id),
    amount      numeric(14, 2) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (promise_id, payment_id)
);
CREATE INDEX promise_settlements_payment_idx ON promise_settlements (payment_id);

-- The outcome of a settled promise: what was paid toward it, the debtor's local date the
-- outcome became certain, and when the settlement run recorded it.
ALTER TABLE promises
    ADD COLUMN paid_amount numeric(14, 2) CHECK (paid_amount >= 0),
    ADD COLUMN settled_on  date,
    ADD COLUMN settled_at  timestamptz,
    ADD CONSTRAINT promises_settled_check CHECK (
        (status IN ('kept', 'partly_kept', 'broken'))
        = (settled_on IS NOT NULL AND settled_at IS NOT NULL AND paid_amount IS NOT NULL));
CREATE INDEX promises_open_debtor_idx ON promises (debtor_id, due_date) WHERE status = 'open';

-- Debtors to contact again, for the scheduler to put into a campaign (a bot reminder
-- first, then an agent), through the compliance gate. One request per promise and kind.
CREATE TABLE followups (
    id          bigserial PRIMARY KEY,
    debtor_id   bigint NOT NULL REFERENCES debtors (id),
    promise_id  bigint REFERENCES promises (id),
    kind        text NOT NULL CHECK (kind IN ('broken_promise', 'reminder')),
    due_at      timestamptz NOT NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (promise_id, kind)
);
CREATE INDEX followups_open_due_idx ON followups (due_at) WHERE status = 'open';
CREATE INDEX followups_debtor_idx ON followups (debtor_id);

-- At most one reminder per promise. The row is claimed ('sending') and committed before
-- the gateway is asked, so two runs never both send; only a send the gateway refused
-- outright ('failed') is tried again. 'unknown' (no answer in time) and a 'sending' left
-- by a crash are not retried: the message may have gone out.
CREATE TABLE promise_reminders (
    promise_id  bigint PRIMARY KEY REFERENCES promises (id),
    channel     text NOT NULL CHECK (channel IN ('sms')),
    reference   text NOT NULL UNIQUE,  -- handed to the gateway, to drop a duplicate
    status      text NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'unknown',
                                                'no_phone')),
    tries       integer NOT NULL DEFAULT 1 CHECK (tries >= 1),
    phone_id    bigint REFERENCES debtor_phones (id),
    error       text,
    claimed_at  timestamptz NOT NULL,
    sent_at     timestamptz,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
