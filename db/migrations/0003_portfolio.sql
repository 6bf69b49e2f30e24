-- 0003: the imported portfolio. Debtors gain the facts segmentation reads (language,
-- credit rating, payment history, free-form attributes from unknown CSV columns), the
-- outputs it writes (segment, strategy, priority), a keyed hash of the last imported row
-- (so re-importing an unchanged row writes nothing), and the key id of the encrypted ID
-- number. Reads of decrypted personal data are audited in pii_audit, append-only.

ALTER TABLE debtors
    ADD COLUMN language         text NOT NULL DEFAULT 'zh'
                                CHECK (language IN ('zh', 'en', 'ko')),
    ADD COLUMN credit_rating    text,
    ADD COLUMN broken_promises  integer NOT NULL DEFAULT 0 CHECK (broken_promises >= 0),
    ADD COLUMN on_time_ratio    numeric(4, 3) CHECK (on_time_ratio BETWEEN 0 AND 1),
    ADD COLUMN attributes       jsonb NOT NULL DEFAULT '{}'
                                CHECK (jsonb_typeof(attributes) = 'object'),
    ADD COLUMN id_number_key_id text,
    -- ISO 3166 region of the primary phone (phonenumbers' region code).
    ADD COLUMN region           text NOT NULL DEFAULT 'CN' CHECK (region ~ '^[A-Z0-9]{2,3}$'),
    ADD COLUMN segment          text,
    ADD COLUMN strategy         text,
    ADD COLUMN priority         numeric(10, 4),
    ADD COLUMN segmented_at     timestamptz,
    ADD COLUMN facts_changed_at timestamptz NOT NULL DEFAULT now(),
    -- HMAC (blind-index key) of the normalised import row; NULL when written another way.
    ADD COLUMN row_hash         bytea,
    ADD CONSTRAINT debtors_id_number_key_id_check
        CHECK ((id_number_enc IS NULL) = (id_number_key_id IS NULL));

-- Who read which decrypted value, when and why. Evidence: never rewritten or removed.
CREATE TABLE pii_audit (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL CHECK (actor <> ''),
    action  text NOT NULL CHECK (action <> ''),
    subject text NOT NULL CHECK (subject <> ''),
    field   text NOT NULL CHECK (field <> ''),
    reason  text NOT NULL CHECK (btrim(reason) <> '')
);
CREATE INDEX pii_audit_subject_idx ON pii_audit (subject, at);

CREATE FUNCTION pii_audit_forbid_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pii_audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER pii_audit_append_only
    BEFORE UPDATE OR DELETE ON pii_audit
    FOR EACH ROW EXECUTE FUNCTION pii_audit_forbid_change();

CREATE TRIGGER pii_audit_no_truncate
    BEFORE TRUNCATE ON pii_audit
    FOR EACH STATEMENT EXECUTE FUNCTION pii_audit_forbid_change();

-- One row per import run, committed with the data it imported.
CREATE TABLE import_runs (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,
    file_name   text NOT NULL,
    encoding    text,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    accepted    integer NOT NULL DEFAULT 0 CHECK (accepted >= 0),
    updated     integer NOT NULL DEFAULT 0 CHECK (updated >= 0),
    unchanged   integer NOT NULL DEFAULT 0 CHECK (unchanged >= 0),
    rejected    integer NOT NULL DEFAULT 0 CHECK (rejected >= 0),
    file_error  text
);
