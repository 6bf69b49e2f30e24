-- The voice bot: every turn of the conversation, the structured outcome of a call,
-- promises to pay with their follow-up date, and tasks for agents.

ALTER TABLE attempts ADD COLUMN recording text;  -- the recording's path as Asterisk wrote it

-- Transcripts name the debtor and may repeat what they said about themselves: the text
-- is encrypted like other personal data (purpose "bot.transcript").
CREATE TABLE bot_turns (
    attempt_id  uuid NOT NULL REFERENCES attempts (id),
    seq         integer NOT NULL,
    node        text NOT NULL,
    prompt_enc  bytea,
    heard_enc   bytea,
    key_id      text NOT NULL,
    intent      text,
    at          timestamptz NOT NULL,
    PRIMARY KEY (attempt_id, seq)
);

CREATE TABLE call_outcomes (
    attempt_id     uuid PRIMARY KEY REFERENCES attempts (id),
    debtor_id      bigint NOT NULL REFERENCES debtors (id),
    script         text NOT NULL,
    kind           text NOT NULL,
    identity       text CHECK (identity IN ('confirmed', 'wrong_party')),
    promise_amount numeric(14, 2) CHECK (promise_amount >= 0),
    promise_date   date,
    callback_at    timestamptz,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE promises (
    id            bigserial PRIMARY KEY,
    debtor_id     bigint NOT NULL REFERENCES debtors (id),
    attempt_id    uuid NOT NULL UNIQUE REFERENCES attempts (id),
    amount        numeric(14, 2) NOT NULL CHECK (amount > 0),
    currency      text NOT NULL,
    due_date      date NOT NULL,
    follow_up_at  timestamptz NOT NULL,  -- when to check for the payment (debtor's zone)
    status        text NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'kept', 'partly_kept', 'broken', 'cancelled')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX promises_follow_up_idx ON promises (follow_up_at) WHERE status = 'open';

CREATE TABLE agent_tasks (
    id          bigserial PRIMARY KEY,
    debtor_id   bigint NOT NULL REFERENCES debtors (id),
    attempt_id  uuid REFERENCES attempts (id),
    reason      text NOT NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'taken', 'done')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_tasks_open_idx ON agent_tasks (created_at) WHERE status = 'open';
