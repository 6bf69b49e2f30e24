-- Agents and their SIP phones. The SIP password is never stored: only the digest
-- credential MD5(username:realm:password) the PBX needs (PJSIP `password_digest`).
CREATE TABLE agents (
    agent_id      text PRIMARY KEY CHECK (agent_id ~ '^[0-9]{3,8}$'),  -- also the SIP user
    display_name  text NOT NULL,
    realm         text NOT NULL,
    md5_cred      text NOT NULL CHECK (md5_cred ~ '^[0-9a-f]{32}$'),
    role          text NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'supervisor')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    removed_at    timestamptz
);

-- Every state change, for occupancy reports and disputes about who had which call.
CREATE TABLE agent_state_log (
    id            bigserial PRIMARY KEY,
    agent_id      text NOT NULL REFERENCES agents (agent_id),
    status        text NOT NULL,
    reason        text,
    call_id       text,
    at            timestamptz NOT NULL
);
CREATE INDEX agent_state_log_agent_at ON agent_state_log (agent_id, at);

-- Promises entered by an agent (an instalment plan is several, one per date) next to the
-- bot's (agent_id NULL): one row per attempt and date.
ALTER TABLE promises ADD COLUMN agent_id text REFERENCES agents (agent_id);
ALTER TABLE promises DROP CONSTRAINT promises_attempt_id_key;
ALTER TABLE promises ADD CONSTRAINT promises_attempt_date_key UNIQUE (attempt_id, due_date);
