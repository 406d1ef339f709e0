#!/bin/sh
# Run once by the postgres image on an empty data directory: the two roles and the database.
# The owner is made a member of the service role so that migrations can hand the projection
# tables to it (a rebuild replaces them); the reverse is never granted.
set -eu
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v owner="${CEASEFIRE_OWNER_ROLE:-ceasefire_owner}" \
    -v service="${CEASEFIRE_SERVICE_ROLE:-ceasefire}" \
    -v database="${CEASEFIRE_DATABASE:-ceasefire}" \
    -v owner_password="$CEASEFIRE_OWNER_PASSWORD" \
    -v service_password="$CEASEFIRE_SERVICE_PASSWORD" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password';
CREATE ROLE :"service" LOGIN PASSWORD :'service_password';
GRANT :"service" TO :"owner";
CREATE DATABASE :"database" OWNER :"owner";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO :"service";
SQL
