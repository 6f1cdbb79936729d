-- Orders and their lines. An order is created PENDING before any remote call, so
-- its idempotency key is taken first and a retry finds it, whatever happens next.
create table orders (
  id              text primary key,
  customer_id     text not null,
  idempotency_key text not null unique,
  -- What the caller asked for (JSON of the items and token fingerprint), to tell a retry from a reused key.
  request_digest  text not null,
  status          text not null check (status in ('PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED')),
  status_reason   text not null default '',
  -- The gRPC status a rejected order answered with, so a retry answers the same.
  failure_code    int,
  currency_code   char(3),
  total_minor     bigint,
  payment_id      text not null default '',
  -- Milliseconds only: ListOrders' page token carries a JS Date, which has no microseconds.
  created_at      timestamptz not null default date_trunc('milliseconds', now()),
  updated_at      timestamptz not null default now()
);
create index orders_by_customer on orders (customer_id, created_at desc, id desc);

create table order_lines (
  order_id         text not null references orders (id),
  line_no          int not null,
  product_id       text not null,
  product_name     text not null,
  quantity         int not null check (quantity > 0),
  unit_price_minor bigint not null check (unit_price_minor >= 0),
  currency_code    char(3) not null,
  primary key (order_id, line_no)
);
