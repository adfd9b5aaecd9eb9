#!/bin/sh
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d/).
# quantdesk connects as an ordinary role: a superuser or BYPASSRLS role would skip row-level
# security, which every user-owned table relies on.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v app_password="$QUANTDESK_DB_PASSWORD" <<'SQL'
CREATE ROLE quantdesk LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
    PASSWORD :'app_password';
CREATE DATABASE quantdesk OWNER quantdesk;
SQL
