-- Run once by the postgres image on an empty data directory
-- (/docker-entrypoint-initdb.d), as the superuser.
-- One database and one login per service: a service can reach only its own data,
-- as it would on separate servers. The passwords are for local development only
-- (docker compose, the Kubernetes dev overlay); use real secrets anywhere else.
-- deploy/k8s/overlays/dev/postgres.yaml carries a copy of this file
-- (test/deploy/kubernetes.test.ts keeps the two equal).

CREATE ROLE catalog LOGIN PASSWORD 'catalog-dev';
CREATE DATABASE catalog OWNER catalog;
REVOKE ALL ON DATABASE catalog FROM PUBLIC;

CREATE ROLE inventory LOGIN PASSWORD 'inventory-dev';
CREATE DATABASE inventory OWNER inventory;
REVOKE ALL ON DATABASE inventory FROM PUBLIC;

CREATE ROLE orders LOGIN PASSWORD 'orders-dev';
CREATE DATABASE orders OWNER orders;
REVOKE ALL ON DATABASE orders FROM PUBLIC;

CREATE ROLE payments LOGIN PASSWORD 'payments-dev';
CREATE DATABASE payments OWNER payments;
REVOKE ALL ON DATABASE payments FROM PUBLIC;

CREATE ROLE notifications LOGIN PASSWORD 'notifications-dev';
CREATE DATABASE notifications OWNER notifications;
REVOKE ALL ON DATABASE notifications FROM PUBLIC;
