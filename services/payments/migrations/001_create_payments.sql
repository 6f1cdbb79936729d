-- Payments' own table: nobody else reads it; other services ask over gRPC or
-- listen to its events.
--
-- One row per idempotency key. A Charge first inserts the row as PENDING (the
-- unique key makes concurrent duplicates agree on one row), asks the card
-- provider outside any transaction, then settles the row as CAPTURED or
-- DECLINED. CAPTURED becomes REFUNDED at most once. The card token is never
-- stored.
create table payments (
  id              text primary key,
  idempotency_key text not null unique,
  order_id        text not null,
  customer_id     text not null,
  amount_minor    bigint not null check (amount_minor > 0),
  currency_code   char(3) not null check (currency_code ~ '^[A-Z]{3}$'),
  status          text not null check (status in ('PENDING', 'CAPTURED', 'DECLINED', 'REFUNDED')),
  decline_reason  text not null default '',
  refund_reason   text not null default '',
  created_at      timestamptz not null default now(),
  -- For a PENDING row, when its charge was (re)claimed: the lease a crashed
  -- charge leaves behind expires from here.
  updated_at      timestamptz not null default now(),
  check ((status = 'DECLINED') = (decline_reason <> ''))
);

-- Refunding on OrderCancelled finds the payment of an order.
create index payments_order_id on payments (order_id);
