-- 0011: reminder calls before a promised date (db/requeue.py): a campaign's setting
-- `remind_in` names the campaign (usually a bot campaign) where its debtors with a promise
-- due soon are queued for a reminder call; the `followups` row (kind 'reminder', one per
-- promise) records that it was queued.
ALTER TABLE campaign_targets DROP CONSTRAINT campaign_targets_reason_check;
ALTER TABLE campaign_targets ADD CONSTRAINT campaign_targets_reason_check
    CHECK (reason IN ('list', 'retry', 'callback', 'broken_promise', 'partly_kept', 'reminder'));
