-- 0002: the numbers a campaign dials. One row per (campaign, phone); the runner takes
-- pending rows in priority order, links the attempt it made, and marks the row done
-- when that attempt is final. Prioritised call lists replace the simple ordering later.
CREATE TABLE campaign_targets (
    id           bigserial PRIMARY KEY,
    campaign_id  bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    debtor_id    bigint NOT NULL REFERENCES debtors (id),
    phone_id     bigint NOT NULL REFERENCES debtor_phones (id),
    priority     integer NOT NULL DEFAULT 0,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'dialling', 'done')),
    attempt_id   uuid REFERENCES attempts (id),
    UNIQUE (campaign_id, phone_id)
);
CREATE INDEX campaign_targets_pending_idx
    ON campaign_targets (campaign_id, priority DESC, id) WHERE status = 'pending';
