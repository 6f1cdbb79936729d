-- Every order payments has settled a charge for or heard was given up, one row
-- each: given_up_reason is set (the first reason stands) once the order was
-- rejected or cancelled, null while it was not. Settling a charge and giving an
-- order up both take this row's lock with an insert-or-update, which also reads
-- its newest committed version whatever the statement's snapshot; so a settle
-- runs as one statement (no BEGIN and COMMIT), and still sees a give-up that
-- committed first, or is seen by it (src/store.ts, lockFate).
alter table given_up_orders rename to order_fates;
alter index given_up_orders_pkey rename to order_fates_pkey;
alter table order_fates rename column reason to given_up_reason;
alter table order_fates alter column given_up_reason drop not null;
alter table order_fates alter column given_up_at drop not null;
alter table order_fates alter column given_up_at drop default;
alter table order_fates add check ((given_up_reason is null) = (given_up_at is null));
