-- An idempotency key is its customer's own: two customers may choose the same key,
-- and neither can take the other's or learn the other's order id through it.
alter table orders drop constraint orders_idempotency_key_key;
alter table orders add constraint orders_customer_idempotency_key unique (customer_id, idempotency_key);
