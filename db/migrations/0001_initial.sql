-- 0001: debtors and their encrypted contact data, debts, campaigns, call attempts and
-- their append-only event log. Personal data is stored only as AES-GCM blobs (*_enc),
-- HMAC blind indexes (*_bidx) for lookup, and masked copies for display.

CREATE TABLE debtors (
    id             bigserial PRIMARY KEY,
    external_id    text NOT NULL UNIQUE,
    name_enc       bytea,
    name_key_id    text,
    id_number_enc  bytea,
    id_number_bidx bytea,
    timezone       text NOT NULL DEFAULT 'Asia/Shanghai',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((name_enc IS NULL) = (name_key_id IS NULL))
);
CREATE INDEX debtors_id_number_bidx_idx ON debtors (id_number_bidx);

CREATE TABLE debtor_phones (
    id         bigserial PRIMARY KEY,
    debtor_id  bigint NOT NULL REFERENCES debtors (id) ON DELETE CASCADE,
    phone_enc  bytea NOT NULL,
    phone_bidx bytea NOT NULL,
    key_id     text NOT NULL,
    masked     text NOT NULL,
    rank       smallint NOT NULL DEFAULT 1,
    UNIQUE (debtor_id, phone_bidx)
);
CREATE INDEX debtor_phones_phone_bidx_idx ON debtor_phones (phone_bidx);

CREATE TABLE debts (
    id           bigserial PRIMARY KEY,
    debtor_id    bigint NOT NULL REFERENCES debtors (id) ON DELETE CASCADE,
    account_ref  text NOT NULL,
    currency     char(3) NOT NULL DEFAULT 'CNY',
    principal    numeric(14, 2) NOT NULL CHECK (principal >= 0),
    amount_due   numeric(14, 2) NOT NULL CHECK (amount_due >= 0),
    overdue_days integer NOT NULL DEFAULT 0 CHECK (overdue_days >= 0),
    due_date     date,
    UNIQUE (debtor_id, account_ref)
);

CREATE TABLE campaigns (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    strategy   text NOT NULL DEFAULT 'hold',
    status     text NOT NULL DEFAULT 'draft'
               CHECK (status IN ('draft', 'running', 'paused', 'finished')),
    settings   jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Attempts are the dialer's durable memory: the row (state 'intent') is committed before
-- the originate, so a crash or a lost response never dials twice. Phones and debtors an
-- attempt points at cannot be deleted (no cascade): call history outlives a re-import.
CREATE TABLE attempts (
    id                uuid PRIMARY KEY,
    campaign_id       bigint REFERENCES campaigns (id),
    debtor_id         bigint NOT NULL REFERENCES debtors (id),
    phone_id          bigint NOT NULL REFERENCES debtor_phones (id),
    state             text NOT NULL CHECK (state IN (
                          'intent', 'originating', 'ringing', 'answered', 'hanging_up', 'final')),
    disposition       text,
    hangup_cause      integer,
    hangup_cause_text text,
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    originated_at     timestamptz,
    ringing_at        timestamptz,
    answered_at       timestamptz,
    ended_at          timestamptz,
    CHECK (state <> 'final' OR (disposition IS NOT NULL AND ended_at IS NOT NULL))
);
CREATE INDEX attempts_live_state_idx ON attempts (state) WHERE state <> 'final';
CREATE INDEX attempts_campaign_created_idx ON attempts (campaign_id, created_at);

CREATE TABLE call_events (
    id         bigserial PRIMARY KEY,
    attempt_id uuid NOT NULL REFERENCES attempts (id),
    at         timestamptz NOT NULL,
    kind       text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX call_events_attempt_idx ON call_events (attempt_id, id);

-- The event log is evidence (what was dialled, when, with which outcome): rows are never
-- rewritten or removed, not even by the application's own role.
CREATE FUNCTION call_events_forbid_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'call_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER call_events_append_only
    BEFORE UPDATE OR DELETE ON call_events
    FOR EACH ROW EXECUTE FUNCTION call_events_forbid_change();

CREATE TRIGGER call_events_no_truncate
    BEFORE TRUNCATE ON call_events
    FOR EACH STATEMENT EXECUTE FUNCTION call_events_forbid_change();
