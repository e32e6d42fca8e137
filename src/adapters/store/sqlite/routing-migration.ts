/**
 * Migration `issuer_routing`: issuer routes, the BIN routing table, maintenance windows and the
 * issuer outbox (requests in flight, reversals and stand-in advices owed to an issuer). Written
 * out in full, like every migration. The outbox holds the card number only sealed (AES-GCM),
 * and only until the message no longer needs it.
 */
export const ISSUER_ROUTING_SQL = `
CREATE TABLE issuer_routes (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  bank_name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('local', 'remote')),
  host TEXT,
  port INTEGER CHECK (port IS NULL OR (port BETWEEN 1 AND 65535)),
  timeout_ms INTEGER NOT NULL CHECK (timeout_ms BETWEEN 50 AND 60000),
  stip_json TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
) STRICT;

-- route_id: a route's id, or 'local' (the local ledger, which needs no row); checked on write.
CREATE TABLE bin_routes (
  prefix TEXT PRIMARY KEY CHECK (length(prefix) BETWEEN 3 AND 10),
  route_id TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE maintenance_windows (
  id TEXT PRIMARY KEY,
  route_id TEXT NOT NULL REFERENCES issuer_routes (id),
  starts_at_ms INTEGER NOT NULL,
  ends_at_ms INTEGER NOT NULL CHECK (ends_at_ms > starts_at_ms),
  mode TEXT NOT NULL CHECK (mode IN ('stand_in', 'decline')),
  note TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  cancelled_at_ms INTEGER
) STRICT;
CREATE INDEX maintenance_windows_route ON maintenance_windows (route_id, ends_at_ms);

CREATE TABLE issuer_messages (
  id TEXT PRIMARY KEY,
  route_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('request', 'reversal', 'advice')),
  transaction_id TEXT NOT NULL,
  request_kind TEXT NOT NULL CHECK (request_kind IN ('purchase', 'balance_inquiry')),
  status TEXT NOT NULL
    CHECK (status IN ('in_flight', 'answered', 'not_sent', 'pending', 'delivered')),
  attempts INTEGER NOT NULL CHECK (attempts >= 0),
  next_attempt_at_ms INTEGER,
  sealed_pan TEXT,
  expiry TEXT NOT NULL,
  stan TEXT NOT NULL,
  transmission_time TEXT NOT NULL,
  terminal_id TEXT NOT NULL,
  merchant_id TEXT NOT NULL,
  rrn TEXT NOT NULL,
  amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
  currency TEXT NOT NULL,
  authorization_code TEXT,
  original_mti TEXT,
  last_error TEXT,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  delivered_at_ms INTEGER
) STRICT;
CREATE INDEX issuer_messages_due ON issuer_messages (next_attempt_at_ms) WHERE status = 'pending';
CREATE INDEX issuer_messages_in_flight ON issuer_messages (created_at_ms) WHERE status = 'in_flight';
CREATE INDEX issuer_messages_sealed ON issuer_messages (updated_at_ms) WHERE sealed_pan IS NOT NULL;
`

/** Migration `stand_in_reason`: why an advice's approval was made in stand-in (ISO 8583 field 60). */
export const STAND_IN_REASON_SQL = `
ALTER TABLE issuer_messages ADD COLUMN stand_in_reason TEXT
  CHECK (stand_in_reason IS NULL OR stand_in_reason IN ('maintenance', 'circuit_open', 'no_connection'));
`
