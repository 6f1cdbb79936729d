-- An order rejected or cancelled while its charge was still PENDING (the provider
-- had answered, the settle had not committed): the refund owed, recorded by the
-- event's consumer, so the settle refunds at once instead of the refund being lost.
alter table payments add column refund_due_reason text not null default '';
