-- The messages customers were sent, one per event that caused one.
create table notifications (
  id              text primary key,
  customer_id     text not null,
  order_id        text not null,
  kind            text not null check (kind in ('ORDER_CONFIRMED', 'ORDER_REJECTED', 'ORDER_CANCELLED', 'PAYMENT_REFUNDED')),
  message         text not null,
  -- The inbox already applies an event once; this makes it so even without the inbox.
  source_event_id text not null unique,
  -- Milliseconds, like a JS Date: the page token carries created_at, and must
  -- compare equal to the stored value or keyset paging would skip rows.
  created_at      timestamptz(3) not null default now()
);

-- ListNotifications: one customer's rows, newest first, by keyset.
create index notifications_by_customer on notifications (customer_id, created_at desc, id desc);
