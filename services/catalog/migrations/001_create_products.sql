-- The catalog's own table: nobody else reads it; other services ask over gRPC.
create table products (
  id            text primary key,
  name          text not null,
  description   text not null,
  price_minor   bigint not null check (price_minor >= 0),
  currency_code char(3) not null check (currency_code ~ '^[A-Z]{3}$'),
  categories    text[] not null default '{}'
);
