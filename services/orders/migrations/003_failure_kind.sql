-- A rejected order keeps what kind of failure rejected it (src/domain.ts,
-- @bazaar/runtime/errors ErrorKind), so a retry with its key answers the same
-- way, or, for a passing fault, says the order is final. It was the gRPC code:
-- the domain now speaks kinds, and the transport maps them to statuses.
alter table orders add column failure_kind text
  check (failure_kind in ('invalid', 'not-found', 'conflict', 'precondition-failed', 'unavailable', 'timed-out', 'cancelled'));
update orders set failure_kind = case failure_code
    when 3 then 'invalid'
    when 5 then 'not-found'
    when 10 then 'conflict'
    when 9 then 'precondition-failed'
    when 14 then 'unavailable'
    when 4 then 'timed-out'
    when 1 then 'cancelled'
    when 8 then 'unavailable'
  end
  where failure_code is not null;
alter table orders drop column failure_code;
