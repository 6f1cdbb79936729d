-- The runtime's tables, created in every service's own database.

-- Events written in the same transaction as the state change they describe, then
-- published to JetStream by the relay (Nats-Msg-Id = id) and marked sent.
create table outbox (
  seq        bigserial primary key,
  id         text not null unique,
  subject    text not null,
  type_name  text not null,
  payload    bytea not null,
  headers    jsonb not null default '{}',
  created_at timestamptz not null default now(),
  sent_at    timestamptz
);
create index outbox_unsent on outbox (seq) where sent_at is null;

-- Events a consumer has applied: inserting the event id in the same transaction
-- as the effect makes a redelivered event take effect once.
create table inbox (
  consumer    text not null,
  event_id    text not null,
  subject     text not null,
  received_at timestamptz not null default now(),
  primary key (consumer, event_id)
);
