-- The relay deletes an outbox row once JetStream has acknowledged its event (the
-- stream keeps what was published) instead of marking it sent and deleting it a
-- week later: one delete in place of an update, which wrote a new version of the
-- row and its index entries, and that later delete. Every row left is unsent, so
-- the primary key gives their order and the partial index of unsent rows goes.
delete from outbox where sent_at is not null;
drop index outbox_unsent;
alter table outbox drop column sent_at;
