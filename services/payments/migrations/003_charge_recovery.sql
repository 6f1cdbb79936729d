-- The simulated card network's books (src/card-ledger.ts), not payments' own
-- state: a real provider keeps them on its side. They live in this database so
-- they outlive a crash of payments, the case its recovery must be tested against
-- (a charge the network made whose answer payments never recorded). One row per
-- charge id (the payment id): the outcome that stands, or VOIDED, a charge the
-- network will refuse from then on because payments gave it up.
create table simulated_card_ledger (
  charge_id      text primary key,
  outcome        text not null check (outcome in ('APPROVED', 'DECLINED', 'VOIDED')),
  decline_reason text not null default '',
  recorded_at    timestamptz not null default now()
);

-- Recovery (src/recovery.ts) looks for PENDING charges older than their lease.
create index payments_pending on payments (updated_at) where status = 'PENDING';
