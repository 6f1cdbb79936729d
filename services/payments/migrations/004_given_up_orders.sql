-- Orders given up (rejected or cancelled: OrderRejected, OrderCancelled), by
-- order id, whether or not a payment existed when payments heard of it. A
-- capture for such an order is refunded when it settles, and a charge for it is
-- refused before it starts (src/charge.ts): payments' own memory of the fate of
-- an order, so no compensation call lost by orders can leave a card charged.
-- It replaces the mark on a PENDING payment (refund_due_reason), which went with
-- its row when a charge that moved no money was deleted and charged again.
create table given_up_orders (
  order_id    text primary key,
  reason      text not null,
  given_up_at timestamptz not null default now()
);

insert into given_up_orders (order_id, reason)
  select order_id, refund_due_reason from payments where refund_due_reason <> ''
  on conflict (order_id) do nothing;

alter table payments drop column refund_due_reason;
