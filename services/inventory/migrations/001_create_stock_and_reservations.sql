-- Inventory's own tables: nobody else reads them; other services ask over gRPC.

-- Units per product. "available" can still be reserved; "reserved" is held by
-- HELD reservations. The checks are the last line of defence: whatever the code
-- does, a row can never go below zero.
create table stock (
  product_id text primary key,
  available  integer not null check (available >= 0),
  reserved   integer not null default 0 check (reserved >= 0)
);

-- One reservation per order: the order id is the idempotency key of every write.
-- A RELEASED reservation without lines is a tombstone (see reservations.ts).
create table reservations (
  order_id   text primary key,
  status     text not null check (status in ('HELD', 'COMMITTED', 'RELEASED')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- line_no keeps the caller's order of lines, so a repeated ReserveStock answers
-- exactly what the first one did.
create table reservation_lines (
  order_id   text not null references reservations (order_id),
  product_id text not null references stock (product_id),
  line_no    integer not null,
  quantity   integer not null check (quantity > 0),
  primary key (order_id, product_id)
);
