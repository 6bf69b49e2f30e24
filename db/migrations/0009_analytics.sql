-- 0009: rollups for the campaign report (docs/metrics.md, db/analytics.py).
--
-- Why rollups and not covering indexes: the report over months is ~10 million attempts,
-- each joined to its outcome, its promises and its agent_connected event, the payments of
-- debtors who promised, and the agents' state log turned into durations. Even index-only,
-- that is tens of millions of tuples per report: tens of seconds (the raw-table baseline of
-- tests/bench/bench_analytics.py), not the sub-second goal. Rollups keyed by campaign and
-- quarter hour hold about a hundred thousand rows for the same months; summing those takes
-- milliseconds.
--
-- Why quarter hours (UTC) and not days: the report takes a range of days in any time zone,
-- and every zone's midnight falls on a quarter hour (India +5:30, Nepal +5:45), so any
-- range of local days is an exact union of quarter hours; per-day rows could only serve
-- one zone.
--
-- Why not counters updated by the writers: every figure of an attempt changes while the
-- call runs (answered, ended, machine, abandoned, right party) and later (outcome,
-- promises, settlement, payments). Counters updated in the dialer's own transactions would
-- make every concurrent call of a campaign wait on the same counter row. Instead triggers
-- only append the key of what changed to a queue table (no lock, no conflict; WHEN clauses
-- keep the function from running for updates the report does not read; statement-level
-- triggers queue a bulk load's keys once), and a refresh (db.analytics_refresh: before
-- every report, and every minute in the daemon's HTTP app) recomputes the queued keys from
-- the raw tables, in ranges and batches. The report is therefore exact: a recount from the
-- raw tables gives the same numbers.
--
-- Agents' time is not cut into quarter hours (a hundred agents logged in all day would be a
-- million rows a half-year): each log row carries the agent's running totals instead, so
-- any range costs two index lookups per agent.
--
-- What it costs the writers: one small queue row per attempt insert and per change of a
-- counted fact (about four per call), per outcome, promise, agent_connected event, state
-- log row and payment; the refresh deletes them.

-- The quarter hour an instant falls in.
CREATE FUNCTION analytics_bucket(at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT date_bin('15 minutes', at, timestamptz '2000-01-01 00:00:00+00') $$;

-- Attempts per campaign (0: made outside any campaign), quarter hour of created_at, and
-- hour of day in the debtor's zone at that moment. Counts as docs/metrics.md defines them,
-- and the promise rows of these calls by status (kept or broken, whatever the currency).
CREATE TABLE analytics_calls (
    campaign_id          bigint NOT NULL,
    bucket               timestamptz NOT NULL,
    local_hour           smallint NOT NULL CHECK (local_hour BETWEEN 0 AND 23),
    attempts             integer NOT NULL,
    answered             integer NOT NULL,
    live                 integer NOT NULL,
    machine              integer NOT NULL,
    talk_calls           integer NOT NULL,
    talk_us              bigint NOT NULL,
    right_party          integer NOT NULL,
    promise_calls        integer NOT NULL,
    abandoned            integer NOT NULL,
    bot_person           integer NOT NULL,
    bot_contained        integer NOT NULL,
    promises_open        integer NOT NULL,
    promises_kept        integer NOT NULL,
    promises_partly_kept integer NOT NULL,
    promises_broken      integer NOT NULL,
    promises_cancelled   integer NOT NULL,
    PRIMARY KEY (campaign_id, bucket, local_hour)
);
CREATE INDEX analytics_calls_bucket_idx ON analytics_calls (bucket);

-- The promised amount (promise rows not cancelled) of those calls, per currency.
CREATE TABLE analytics_promises (
    campaign_id bigint NOT NULL,
    bucket      timestamptz NOT NULL,
    currency    text NOT NULL,
    amount      numeric NOT NULL,
    PRIMARY KEY (campaign_id, bucket, currency)
);
CREATE INDEX analytics_promises_bucket_idx ON analytics_promises (bucket);

-- Since when each debtor has a (not cancelled) promise from each campaign.
CREATE TABLE analytics_promisers (
    debtor_id   bigint NOT NULL,
    campaign_id bigint NOT NULL,
    since       timestamptz NOT NULL,
    PRIMARY KEY (debtor_id, campaign_id)
);

-- Recovered money: payments per quarter hour of paid_at and currency, of debtors who had
-- a promise from the campaign by then (analytics_promisers). Campaign -1: from any
-- campaign, each payment once (the report's total).
CREATE TABLE analytics_recovered (
    campaign_id bigint NOT NULL,
    bucket      timestamptz NOT NULL,
    currency    text NOT NULL,
    amount      numeric NOT NULL,
    PRIMARY KEY (campaign_id, bucket, currency)
);
CREATE INDEX analytics_recovered_bucket_idx ON analytics_recovered (bucket);

-- Per agent state log row, the agent's time so far (µs) in a logged-in state, on call and in
-- wrap-up, counted from the agent's first row up to this one. The time in [a, b) is then
-- V(b) - V(a), where V(t) is the count at the agent's last row at or before t plus (t -
-- that row's time) if its state counts: two index lookups per agent, whatever the range,
-- and the state still open (until now) needs nothing stored.
CREATE TABLE analytics_agent_marks (
    log_id       bigint PRIMARY KEY,
    agent_id     text NOT NULL,
    at           timestamptz NOT NULL,
    status       text NOT NULL,
    logged_in_us bigint NOT NULL,
    on_call_us   bigint NOT NULL,
    wrap_up_us   bigint NOT NULL
);
CREATE INDEX analytics_agent_marks_agent_at_idx ON analytics_agent_marks (agent_id, at, log_id);

-- The queues the triggers append to and the refresh drains. No unique keys: appending never
-- waits for another transaction, and a key queued twice is recomputed once per batch.
CREATE TABLE analytics_dirty_calls (campaign_id bigint NOT NULL, bucket timestamptz NOT NULL);
CREATE TABLE analytics_dirty_debtors (debtor_id bigint NOT NULL);
CREATE TABLE analytics_dirty_payments (bucket timestamptz NOT NULL);
-- An agent's marks to recompute from `since` on.
CREATE TABLE analytics_dirty_agents (agent_id text NOT NULL, since timestamptz NOT NULL);
-- The refresh takes each queue in key order (neighbouring keys recompute together): with
-- these it reads a batch's worth, not the whole queue, however long it has grown.
CREATE INDEX analytics_dirty_calls_key_idx ON analytics_dirty_calls (campaign_id, bucket);
CREATE INDEX analytics_dirty_debtors_key_idx ON analytics_dirty_debtors (debtor_id);
CREATE INDEX analytics_dirty_payments_key_idx ON analytics_dirty_payments (bucket);
CREATE INDEX analytics_dirty_agents_key_idx ON analytics_dirty_agents (agent_id, since);

-- Lookups the refresh makes per attempt and per debtor.
CREATE INDEX call_events_agent_connected_idx ON call_events (attempt_id)
    WHERE kind = 'agent_connected';
CREATE INDEX promises_debtor_idx ON promises (debtor_id);

-- Attempts added or removed (statement level: a bulk insert queues each key once).
CREATE FUNCTION analytics_queue_attempt_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_dirty_calls (campaign_id, bucket)
        SELECT DISTINCT coalesce(campaign_id, 0), analytics_bucket(created_at) FROM changed;
    RETURN NULL;
END;
$$;
CREATE TRIGGER attempts_analytics_insert AFTER INSERT ON attempts
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_attempt_rows();
CREATE TRIGGER attempts_analytics_delete AFTER DELETE ON attempts
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_attempt_rows();

-- An attempt whose counted facts changed (row level: the WHEN clause skips the dialer's
-- other updates without calling the function).
CREATE FUNCTION analytics_queue_attempt_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_dirty_calls (campaign_id, bucket)
        VALUES (coalesce(NEW.campaign_id, 0), analytics_bucket(NEW.created_at));
    IF (OLD.campaign_id, OLD.created_at) IS DISTINCT FROM (NEW.campaign_id, NEW.created_at)
    THEN
        INSERT INTO analytics_dirty_calls (campaign_id, bucket)
            VALUES (coalesce(OLD.campaign_id, 0), analytics_bucket(OLD.created_at));
    END IF;
    IF (OLD.campaign_id, OLD.debtor_id) IS DISTINCT FROM (NEW.campaign_id, NEW.debtor_id) THEN
        INSERT INTO analytics_dirty_debtors (debtor_id) VALUES (OLD.debtor_id), (NEW.debtor_id);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER attempts_analytics_update
    AFTER UPDATE OF campaign_id, debtor_id, created_at, answered_at, ended_at, machine,
                    abandoned, right_party ON attempts
    FOR EACH ROW
    WHEN ((OLD.campaign_id, OLD.debtor_id, OLD.created_at, OLD.answered_at, OLD.ended_at,
           OLD.machine, OLD.abandoned, OLD.right_party)
          IS DISTINCT FROM (NEW.campaign_id, NEW.debtor_id, NEW.created_at, NEW.answered_at,
                            NEW.ended_at, NEW.machine, NEW.abandoned, NEW.right_party))
    EXECUTE FUNCTION analytics_queue_attempt_change();

-- Rows that belong to an attempt (outcomes, promises, agent_connected events): queue
-- the attempt's key; for promises, their debtor too.
CREATE FUNCTION analytics_queue_attempt_of(attempt uuid) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO analytics_dirty_calls (campaign_id, bucket)
        SELECT coalesce(campaign_id, 0), analytics_bucket(created_at) FROM attempts
        WHERE id = attempt;
$$;

CREATE FUNCTION analytics_queue_child_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_dirty_calls (campaign_id, bucket)
        SELECT DISTINCT coalesce(a.campaign_id, 0), analytics_bucket(a.created_at)
        FROM changed c JOIN attempts a ON a.id = c.attempt_id;
    IF TG_TABLE_NAME = 'promises' THEN
        INSERT INTO analytics_dirty_debtors (debtor_id) SELECT DISTINCT debtor_id FROM changed;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION analytics_queue_child_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM analytics_queue_attempt_of(OLD.attempt_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR OLD.attempt_id <> NEW.attempt_id) THEN
        PERFORM analytics_queue_attempt_of(NEW.attempt_id);
    END IF;
    IF TG_TABLE_NAME = 'promises' THEN
        IF TG_OP <> 'INSERT' THEN
            INSERT INTO analytics_dirty_debtors (debtor_id) VALUES (OLD.debtor_id);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO analytics_dirty_debtors (debtor_id) VALUES (NEW.debtor_id);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER call_outcomes_analytics_insert AFTER INSERT ON call_outcomes
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_child_rows();
CREATE TRIGGER call_outcomes_analytics_delete AFTER DELETE ON call_outcomes
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_child_rows();
CREATE TRIGGER call_outcomes_analytics_update AFTER UPDATE OF attempt_id, kind ON call_outcomes
    FOR EACH ROW WHEN ((OLD.attempt_id, OLD.kind) IS DISTINCT FROM (NEW.attempt_id, NEW.kind))
    EXECUTE FUNCTION analytics_queue_child_change();

CREATE TRIGGER promises_analytics_insert AFTER INSERT ON promises
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_child_rows();
CREATE TRIGGER promises_analytics_delete AFTER DELETE ON promises
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_child_rows();
CREATE TRIGGER promises_analytics_update
    AFTER UPDATE OF attempt_id, debtor_id, amount, currency, status, created_at ON promises
    FOR EACH ROW
    WHEN ((OLD.attempt_id, OLD.debtor_id, OLD.amount, OLD.currency, OLD.status, OLD.created_at)
          IS DISTINCT FROM
          (NEW.attempt_id, NEW.debtor_id, NEW.amount, NEW.currency, NEW.status, NEW.created_at))
    EXECUTE FUNCTION analytics_queue_child_change();

-- call_events takes several rows per call; only agent_connected counts (bot containment).
-- It is append-only, so inserts are all there is to follow.
CREATE TRIGGER call_events_analytics_insert AFTER INSERT ON call_events
    FOR EACH ROW WHEN (NEW.kind = 'agent_connected')
    EXECUTE FUNCTION analytics_queue_child_change();

-- A debtor's zone decides the local hour of each of their attempts.
CREATE FUNCTION analytics_queue_debtor_zone() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_dirty_calls (campaign_id, bucket)
        SELECT DISTINCT coalesce(campaign_id, 0), analytics_bucket(created_at) FROM attempts
        WHERE debtor_id = NEW.id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER debtors_analytics_zone AFTER UPDATE OF timezone ON debtors
    FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
    EXECUTE FUNCTION analytics_queue_debtor_zone();

-- A state log row changes the counts of every later row of its agent (the row before it
-- now ends at it): queue the agent from the row's time on.
CREATE FUNCTION analytics_queue_agent_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_dirty_agents (agent_id, since)
        SELECT agent_id, min(at) FROM changed GROUP BY agent_id;
    RETURN NULL;
END;
$$;

CREATE FUNCTION analytics_queue_agent_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_dirty_agents (agent_id, since)
        VALUES (OLD.agent_id, least(OLD.at, NEW.at));
    IF NEW.agent_id <> OLD.agent_id THEN
        INSERT INTO analytics_dirty_agents (agent_id, since) VALUES (NEW.agent_id, NEW.at);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER agent_state_log_analytics_insert AFTER INSERT ON agent_state_log
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_agent_rows();
CREATE TRIGGER agent_state_log_analytics_delete AFTER DELETE ON agent_state_log
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_agent_rows();
CREATE TRIGGER agent_state_log_analytics_update
    AFTER UPDATE OF agent_id, status, at ON agent_state_log
    FOR EACH ROW WHEN ((OLD.agent_id, OLD.status, OLD.at)
                       IS DISTINCT FROM (NEW.agent_id, NEW.status, NEW.at))
    EXECUTE FUNCTION analytics_queue_agent_change();

-- Payments come with migration 0008; this follows them once the table is there (the
-- migration calls it, and so can whoever creates the table later). Payments are queued
-- by the quarter hour they were paid in.
CREATE FUNCTION analytics_queue_payment_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_dirty_payments (bucket)
        SELECT DISTINCT analytics_bucket(paid_at) FROM changed;
    RETURN NULL;
END;
$$;

CREATE FUNCTION analytics_queue_payment_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_dirty_payments (bucket)
        VALUES (analytics_bucket(OLD.paid_at)), (analytics_bucket(NEW.paid_at));
    RETURN NULL;
END;
$$;

CREATE FUNCTION analytics_follow_payments() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('payments') IS NULL THEN
        RETURN false;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgname = 'payments_analytics_insert') THEN
        CREATE INDEX IF NOT EXISTS payments_paid_at_idx ON payments (paid_at);
        CREATE TRIGGER payments_analytics_insert AFTER INSERT ON payments
            REFERENCING NEW TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_payment_rows();
        CREATE TRIGGER payments_analytics_delete AFTER DELETE ON payments
            REFERENCING OLD TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION analytics_queue_payment_rows();
        CREATE TRIGGER payments_analytics_update
            AFTER UPDATE OF debtor_id, amount, currency, paid_at ON payments
            FOR EACH ROW WHEN ((OLD.debtor_id, OLD.amount, OLD.currency, OLD.paid_at)
                               IS DISTINCT FROM
                               (NEW.debtor_id, NEW.amount, NEW.currency, NEW.paid_at))
            EXECUTE FUNCTION analytics_queue_payment_change();
        INSERT INTO analytics_dirty_payments (bucket)
            SELECT DISTINCT analytics_bucket(paid_at) FROM payments;
    END IF;
    RETURN true;
END;
$$;

-- Queue everything already recorded: the first refresh builds the rollups from the history
-- (in batches, so no single statement runs long). Also what a rebuild calls.
CREATE FUNCTION analytics_queue_everything() RETURNS void
LANGUAGE sql AS $$
    INSERT INTO analytics_dirty_calls (campaign_id, bucket)
        SELECT DISTINCT coalesce(campaign_id, 0), analytics_bucket(created_at) FROM attempts;
    INSERT INTO analytics_dirty_debtors (debtor_id) SELECT DISTINCT debtor_id FROM promises;
    INSERT INTO analytics_dirty_agents (agent_id, since)
        SELECT agent_id, min(at) FROM agent_state_log GROUP BY agent_id;
$$;

SELECT analytics_queue_everything();
SELECT analytics_follow_payments();
