-- 0007: what the agent desk records about a call: one disposition per call (corrections
-- overwrite it, keeping who wrote it last and when), callbacks asked for by the debtor
-- (through the bot or an agent) for a scheduler to dial through the compliance gate.

CREATE TABLE callbacks (
    id          bigserial PRIMARY KEY,
    debtor_id   bigint NOT NULL REFERENCES debtors (id),
    attempt_id  uuid NOT NULL REFERENCES attempts (id),
    due_at      timestamptz NOT NULL,  -- the debtor's local time, stored in UTC
    agent_id    text REFERENCES agents (agent_id),  -- who scheduled it; NULL for the bot
    source      text NOT NULL CHECK (source IN ('bot', 'agent')),
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (source <> 'agent' OR agent_id IS NOT NULL)
);
-- What the scheduler reads: the open callbacks that are due.
CREATE INDEX callbacks_open_due_idx ON callbacks (due_at) WHERE status = 'open';
-- The bot records a call's outcome once; a replayed outcome must not schedule twice.
CREATE UNIQUE INDEX callbacks_bot_attempt_key ON callbacks (attempt_id) WHERE source = 'bot';
CREATE INDEX callbacks_attempt_idx ON callbacks (attempt_id);

-- The note may carry personal data (what the debtor said about themselves): encrypted
-- like the bot's transcript (purpose "desk.note"), with the key id for rotation.
CREATE TABLE call_dispositions (
    attempt_id   uuid PRIMARY KEY REFERENCES attempts (id),
    debtor_id    bigint NOT NULL REFERENCES debtors (id),
    kind         text NOT NULL CHECK (kind IN (
                     'promise', 'callback', 'hardship', 'dispute', 'refusal',
                     'wrong_party', 'opt_out', 'no_contact', 'other')),
    callback_id  bigint REFERENCES callbacks (id),
    note_enc     bytea,
    note_key_id  text,
    agent_id     text NOT NULL REFERENCES agents (agent_id),  -- who wrote it last
    recorded_at  timestamptz NOT NULL,                        -- when, last
    revision     integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
    CHECK ((note_enc IS NULL) = (note_key_id IS NULL)),
    CHECK ((kind = 'callback') = (callback_id IS NOT NULL))
);
CREATE INDEX call_dispositions_debtor_idx ON call_dispositions (debtor_id, recorded_at);
