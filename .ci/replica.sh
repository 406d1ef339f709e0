#!/usr/bin/env bash
# A PostgreSQL hot standby of the local cluster (127.0.0.1:5432), streaming on loopback, for the
# read-replica tests and bench/scale.py (docs/scaling.md).
#
#   .ci/replica.sh start     # make it if missing (pg_basebackup -R), start it, wait for streaming
#   .ci/replica.sh stop      # stop it (the tests stop and start it to test the fallback)
#   .ci/replica.sh status    # running and streaming? exit 0 if so
#   .ci/replica.sh destroy   # stop it, delete its files and its replication slot
#
# It never restarts or reconfigures the primary beyond one pg_hba.conf line (replication from
# 127.0.0.1, trust, as the cluster's other loopback lines) and a pg_reload_conf(), which does
# not disconnect anyone. The standby holds a physical replication slot, so the primary keeps
# the WAL it has not received while it is stopped: `destroy` drops the slot.
#
# Settings: CEASEFIRE_REPLICA_PORT (5433), CEASEFIRE_REPLICA_DIR
# (/var/lib/postgresql/ceasefire-replica-<port>), PRIMARY_HOST/PRIMARY_PORT (127.0.0.1:5432).
# PostgreSQL refuses to run as root: as root, the server's commands run as the postgres user.
set -euo pipefail

PORT="${CEASEFIRE_REPLICA_PORT:-5433}"
DIR="${CEASEFIRE_REPLICA_DIR:-/var/lib/postgresql/ceasefire-replica-$PORT}"
PRIMARY_HOST="${PRIMARY_HOST:-127.0.0.1}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
SLOT="ceasefire_replica_$PORT"
LOG="$DIR.log"

primary() { psql -X -q -At -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -d postgres "$@"; }
replica() { psql -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"; }
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
  local major
  major="$(primary -c 'SHOW server_version_num')"
  echo "/usr/lib/postgresql/$((major / 10000))/bin"
}

running() { pg_isready -h 127.0.0.1 -p "$PORT" -q; }

streaming() {
  [ "$(replica -c "SELECT pg_is_in_recovery() AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')" 2>/dev/null)" = t ]
}

allow_replication() {
  # One line, added once: the cluster's loopback lines say "all", which does not cover
  # replication connections.
  local rules hba
  rules="$(primary -c "SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database) AND address = '127.0.0.1'")"
  if [ "$rules" = 0 ]; then
    hba="$(primary -c 'SHOW hba_file')"
    printf '%s\n' "host replication all 127.0.0.1/32 trust  # ceasefire read-replica tests (.ci/replica.sh)" >>"$hba"
    primary -c 'SELECT pg_reload_conf()' >/dev/null
  fi
}

setting() { primary -c "SHOW $1"; }

create() {
  local bin="$1"
  allow_replication
  as_postgres mkdir -p "$(dirname "$DIR")"
  rm -rf "$DIR"
  if [ "$(primary -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'")" != 0 ]; then
    primary -c "SELECT pg_drop_replication_slot('$SLOT')" >/dev/null
  fi
  as_postgres "$bin/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U postgres -D "$DIR" \
    -R -X stream -C -S "$SLOT" -c fast
  # A Debian cluster keeps its configuration outside the data directory: the standby gets its
  # own. Settings a standby must not have below its primary's are copied from the primary.
  as_postgres tee "$DIR/postgresql.conf" >/dev/null <<EOF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
hot_standby = on
hot_standby_feedback = on
shared_buffers = 64MB
max_connections = $(setting max_connections)
max_worker_processes = $(setting max_worker_processes)
max_wal_senders = $(setting max_wal_senders)
max_prepared_transactions = $(setting max_prepared_transactions)
max_locks_per_transaction = $(setting max_locks_per_transaction)
EOF
  as_postgres tee "$DIR/pg_hba.conf" >/dev/null <<EOF
local all all trust
host all all 127.0.0.1/32 trust
EOF
}

launch() {
  local bin="$1"
  if running; then
    echo "replica: already running on 127.0.0.1:$PORT"
  else
    [ -f "$DIR/PG_VERSION" ] || create "$bin"
    as_postgres touch "$LOG"
    as_postgres "$bin/pg_ctl" -D "$DIR" -l "$LOG" -w -t 60 start >/dev/null
  fi
  for _ in $(seq 1 300); do
    if streaming; then
      echo "replica: streaming from $PRIMARY_HOST:$PRIMARY_PORT on 127.0.0.1:$PORT"
      return 0
    fi
    sleep 0.1
  done
  return 1
}

start() {
  local bin
  bin="$(bindir)"
  launch "$bin" && return 0
  # A standby that cannot stream (its files from another cluster, WAL it needs gone): made anew.
  echo "replica: not streaming after 30 s; making it anew (see $LOG)" >&2
  stop
  rm -rf "$DIR"
  launch "$bin" && return 0
  echo "replica: not streaming; see $LOG" >&2
  return 1
}

stop() {
  if [ -f "$DIR/postmaster.pid" ]; then
    as_postgres "$(bindir)/pg_ctl" -D "$DIR" -m fast -w -t 60 stop >/dev/null
  fi
  echo "replica: stopped"
}

destroy() {
  stop
  rm -rf "$DIR" "$LOG"
  if [ "$(primary -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT'")" != 0 ]; then
    primary -c "SELECT pg_drop_replication_slot('$SLOT')" >/dev/null
  fi
  echo "replica: destroyed"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  destroy) destroy ;;
  status) running && streaming ;;
  *)
    echo "usage: $0 start|stop|status|destroy" >&2
    exit 2
    ;;
esac
