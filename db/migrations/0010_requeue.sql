-- 0010: retries and re-queued work on campaign targets.
--
-- A campaign target is one debtor of one campaign. A finished attempt either closes it
-- ('done') or, by the campaign's retry rules (engine/retry.py), sends it back to 'pending'
-- with the time of the next try and possibly the debtor's next number. Callbacks the debtor
-- asked for and broken promises come back the same way (db/requeue.py), so every call still
-- goes through the lease and the compliance gate.
ALTER TABLE campaign_targets
    ADD COLUMN tries integer NOT NULL DEFAULT 0,  -- finished attempts of this target
    ADD COLUMN reason text NOT NULL DEFAULT 'list'
        CHECK (reason IN ('list', 'retry', 'callback', 'broken_promise', 'partly_kept')),
    ADD COLUMN requeued_at timestamptz;

-- The retry rules read a target's earlier attempts in its campaign.
CREATE INDEX attempts_campaign_debtor_idx ON attempts (campaign_id, debtor_id, created_at);

-- A callback or a broken promise is 'queued' once it is a target of a campaign; the row
-- keeps where it went.
ALTER TABLE callbacks DROP CONSTRAINT callbacks_status_check;
ALTER TABLE callbacks ADD CONSTRAINT callbacks_status_check
    CHECK (status IN ('open', 'queued', 'done', 'cancelled'));
ALTER TABLE callbacks ADD COLUMN queued_campaign_id bigint REFERENCES campaigns (id);

ALTER TABLE followups DROP CONSTRAINT followups_status_check;
ALTER TABLE followups ADD CONSTRAINT followups_status_check
    CHECK (status IN ('open', 'queued', 'done', 'unrouted'));
ALTER TABLE followups ADD COLUMN queued_campaign_id bigint REFERENCES campaigns (id);

-- A partly kept promise leaves a shortfall: it is followed up like a broken one.
ALTER TABLE followups DROP CONSTRAINT followups_kind_check;
ALTER TABLE followups ADD CONSTRAINT followups_kind_check
    CHECK (kind IN ('broken_promise', 'partly_kept', 'reminder'));
