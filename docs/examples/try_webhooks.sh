#!/usr/bin/env bash
# Webhooks on one machine (`make try-webhooks`): the service on WEBHOOKS_PORT (default 8010),
# with a database of its own, and the README's receiver (docs/examples/webhook_receiver.py) on
# RECEIVER_PORT (8011), so neither clashes with `make serve` on 8000. It subscribes the receiver,
# pings it, records an agreement and an allegation, prints what the receiver received, and
# stops both.
#
# A receiver on loopback needs the two settings set below: by default the service sends only
# to https URLs on public addresses (see "Safety" in the README).
set -euo pipefail
cd "$(dirname "$0")/../.."

service_port="${WEBHOOKS_PORT:-8010}"
receiver_port="${RECEIVER_PORT:-8011}"
service="http://127.0.0.1:${service_port}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export CEASEFIRE_DATABASE_URL="sqlite+aiosqlite:///${work}/webhooks.db"
export CEASEFIRE_WEBHOOK_ALLOW_HTTP=true                  # the receiver speaks plain http
export CEASEFIRE_WEBHOOK_ALLOWED_SUBNETS=127.0.0.0/8,::1/128  # ...on loopback

.venv/bin/ceasefire serve --port "$service_port" >"$work/service.log" 2>&1 &  # migrates first
pids+=($!)
until curl -sf "$service/healthz" >/dev/null; do
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/service.log"; exit 1; }
  sleep 0.1
done
key="$(.venv/bin/ceasefire keys create --role admin --name try-webhooks 2>/dev/null)"

json() { .venv/bin/python -c "import json, sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
post() {
  curl -sf -X POST "$service$1" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' -d "$2"
}

hook="$(post /v1/webhooks "{\"url\": \"http://127.0.0.1:${receiver_port}/webhook\",
  \"event_types\": [\"agreement.signed\", \"violation.alleged\"]}")"
hook_id="$(json id <<<"$hook")"
echo "subscribed http://127.0.0.1:${receiver_port}/webhook as ${hook_id}"

WEBHOOK_SECRET="$(json secret <<<"$hook")" .venv/bin/uvicorn --app-dir docs/examples \
  webhook_receiver:app --port "$receiver_port" --log-level warning >"$work/receiver.log" 2>&1 &
pids+=($!)
until curl -s -o /dev/null "http://127.0.0.1:${receiver_port}/"; do
  kill -0 "${pids[1]}" 2>/dev/null || { cat "$work/receiver.log"; exit 1; }
  sleep 0.1
done

echo "ping: $(post "/v1/webhooks/${hook_id}/ping" '{}')"
post /v1/events '{"type": "agreement.signed", "conflict": "example-border",
  "occurred_at": "2024-05-01T12:00:00Z", "source": {"name": "Example desk"},
  "data": {"agreement_id": "example-ceasefire", "parties": ["Northland", "Southland"]}}' >/dev/null
post /v1/events '{"type": "violation.alleged", "conflict": "example-border",
  "occurred_at": "2024-05-02T06:30:00Z", "source": {"name": "Example desk"},
  "data": {"alleged_by": "Northland", "accused": "Southland"}}' >/dev/null

for _ in $(seq 1 300); do  # up to 30 s for the two deliveries
  [ "$(grep -c 'example-border' "$work/receiver.log" || true)" -ge 2 ] && break
  sleep 0.1
done
echo "the receiver printed:"
cat "$work/receiver.log"
