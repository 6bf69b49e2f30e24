-- 0004: what the compliance gate needs to know, and per-debtor leasing of call lists.

-- Whose number it is: the debtor's own, or a contact person's (third-party rules apply).
ALTER TABLE debtor_phones
    ADD COLUMN owner text NOT NULL DEFAULT 'self' CHECK (owner IN ('self', 'third_party'));

-- Standing instructions from or about the debtor.
ALTER TABLE debtors
    ADD COLUMN opted_out boolean NOT NULL DEFAULT false,
    ADD COLUMN cease boolean NOT NULL DEFAULT false,
    ADD COLUMN attorney boolean NOT NULL DEFAULT false,
    ADD COLUMN consent_until timestamptz,
    -- [{"weekday": 0-6 (Monday 0), "start": "HH:MM", "end": "HH:MM"}], debtor local time
    ADD COLUMN inconvenient jsonb NOT NULL DEFAULT '[]';

-- Do-not-call lists: global ones (campaign_id NULL) and per campaign. An entry names a
-- number (by its blind index) or a whole debtor.
CREATE TABLE dnc_lists (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    campaign_id bigint REFERENCES campaigns (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE dnc_entries (
    id         bigserial PRIMARY KEY,
    list_id    bigint NOT NULL REFERENCES dnc_lists (id) ON DELETE CASCADE,
    phone_bidx bytea,
    debtor_id  bigint REFERENCES debtors (id) ON DELETE CASCADE,
    reason     text NOT NULL DEFAULT '',
    added_at   timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    CHECK ((phone_bidx IS NULL) <> (debtor_id IS NULL))
);
CREATE INDEX dnc_entries_phone_idx ON dnc_entries (phone_bidx) WHERE phone_bidx IS NOT NULL;
CREATE INDEX dnc_entries_debtor_idx ON dnc_entries (debtor_id) WHERE debtor_id IS NOT NULL;

-- Facts about each attempt that the rules count (filled as flows learn them).
ALTER TABLE attempts
    ADD COLUMN right_party boolean,
    ADD COLUMN machine boolean NOT NULL DEFAULT false,
    ADD COLUMN abandoned boolean NOT NULL DEFAULT false,
    ADD COLUMN automated boolean NOT NULL DEFAULT true,
    ADD COLUMN third_party_refused boolean NOT NULL DEFAULT false;
CREATE INDEX attempts_debtor_created_idx ON attempts (debtor_id, created_at);
CREATE INDEX attempts_phone_created_idx ON attempts (phone_id, created_at);

-- Call lists are per debtor (the gate picks the number at dial time), leased so several
-- daemons sharing the database never take the same debtor; an expired lease returns.
ALTER TABLE campaign_targets DROP CONSTRAINT campaign_targets_campaign_id_phone_id_key;
ALTER TABLE campaign_targets
    ADD CONSTRAINT campaign_targets_campaign_debtor_key UNIQUE (campaign_id, debtor_id),
    ADD COLUMN leased_by text,
    ADD COLUMN lease_expires_at timestamptz,
    ADD COLUMN next_allowed_at timestamptz,
    ADD COLUMN last_decision jsonb,
    ALTER COLUMN priority TYPE numeric(10, 4);
ALTER TABLE campaign_targets DROP CONSTRAINT campaign_targets_status_check;
ALTER TABLE campaign_targets ADD CONSTRAINT campaign_targets_status_check
    CHECK (status IN ('pending', 'dialling', 'done', 'blocked'));
DROP INDEX campaign_targets_pending_idx;
CREATE INDEX campaign_targets_ready_idx
    ON campaign_targets (campaign_id, priority DESC, id) WHERE status = 'pending';
CREATE INDEX campaign_targets_expired_lease_idx
    ON campaign_targets (campaign_id, lease_expires_at)
    WHERE status = 'dialling' AND attempt_id IS NULL;
