-- Inbox rows are pruned per consumer by age (events/consumer.ts pruneInbox): find them without a scan.
create index inbox_received on inbox (consumer, received_at);
