/**
 * Migration `risk_control`: review and allow lists beside the block list, versioned risk rules
 * (rows never change: a new version is a new row), the review queue, and when each card was
 * first seen. Written out in full, like every migration: history must not move with the code.
 */
export const RISK_CONTROL_SQL = `
CREATE TABLE list_entries_v2 (
  id TEXT PRIMARY KEY,
  list TEXT NOT NULL CHECK (list IN ('block', 'review', 'allow')),
  kind TEXT NOT NULL CHECK (kind IN ('card', 'bin', 'merchant', 'terminal')),
  value TEXT NOT NULL,
  display TEXT NOT NULL,
  note TEXT NOT NULL,
  expires_at_ms INTEGER,
  created_by TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
) STRICT;
INSERT INTO list_entries_v2 SELECT id, list, kind, value, display, note, expires_at_ms,
  created_by, created_at_ms FROM list_entries;
DROP TABLE list_entries;
ALTER TABLE list_entries_v2 RENAME TO list_entries;
CREATE INDEX list_entries_value ON list_entries (value);

CREATE TABLE risk_rules (
  id TEXT NOT NULL,
  version INTEGER NOT NULL CHECK (version >= 1),
  status TEXT NOT NULL CHECK (status IN ('draft', 'shadow', 'active', 'disabled')),
  name TEXT NOT NULL,
  expression TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('allow', 'block', 'review', 'score')),
  reason TEXT,
  score INTEGER NOT NULL CHECK (score >= 0),
  priority INTEGER NOT NULL,
  description_zh TEXT NOT NULL,
  description_en TEXT NOT NULL,
  author TEXT NOT NULL,
  change_note TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (id, version)
) STRICT;
CREATE TRIGGER risk_rules_no_update BEFORE UPDATE ON risk_rules
BEGIN
  SELECT RAISE(ABORT, 'risk_rules versions never change: add a version');
END;
CREATE TRIGGER risk_rules_no_delete BEFORE DELETE ON risk_rules
BEGIN
  SELECT RAISE(ABORT, 'risk_rules versions are kept: disable the rule instead');
END;

CREATE TABLE risk_reviews (
  transaction_id TEXT PRIMARY KEY,
  status TEXT NOT NULL CHECK (status IN ('open', 'claimed', 'resolved')),
  created_at_ms INTEGER NOT NULL,
  decided_by TEXT NOT NULL,
  rule_hits TEXT NOT NULL,
  score INTEGER NOT NULL,
  card_token TEXT,
  card_masked TEXT,
  merchant_id TEXT NOT NULL,
  terminal_id TEXT NOT NULL,
  amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
  currency TEXT NOT NULL,
  claimed_by TEXT,
  claimed_at_ms INTEGER,
  resolution TEXT CHECK (resolution IS NULL OR resolution IN ('fraud', 'genuine')),
  resolution_note TEXT,
  resolved_by TEXT,
  resolved_at_ms INTEGER
) STRICT;
CREATE INDEX risk_reviews_status_time ON risk_reviews (status, created_at_ms, transaction_id);
CREATE INDEX risk_reviews_time ON risk_reviews (created_at_ms, transaction_id);

CREATE TABLE card_first_seen (
  card_token TEXT PRIMARY KEY,
  first_seen_ms INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
`
