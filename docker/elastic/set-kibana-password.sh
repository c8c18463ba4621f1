#!/usr/bin/env bash
# One-shot setup for docker/compose.yml (service es-setup): give the built-in `kibana_system` user the
# generated password so that Kibana can connect to Elasticsearch. Elasticsearch may still be starting
# its security index, so retry until it answers `{}` (success) or the deadline passes.
#
# Environment: ES_URL, ELASTIC_PASSWORD, KIBANA_SYSTEM_PASSWORD (from docker/.env; never echoed).
# Optional: SETUP_TIMEOUT (seconds, default 120), SETUP_PAUSE (seconds between tries, default 2).
set -u

es_url="${ES_URL:-http://elasticsearch:9200}"
timeout="${SETUP_TIMEOUT:-120}"
pause="${SETUP_PAUSE:-2}"

for name in ELASTIC_PASSWORD KIBANA_SYSTEM_PASSWORD; do
  value="${!name:-}"
  if [ -z "$value" ]; then
    echo "es-setup: $name is not set (run \`awssignin docker up\` to generate docker/.env)" >&2
    exit 2
  fi
  # secrets.py generates letters and digits only, which is also what keeps the JSON below valid
  if ! [[ "$value" =~ ^[A-Za-z0-9]+$ ]]; then
    echo "es-setup: $name must be letters and digits only" >&2
    exit 2
  fi
done

deadline=$(( $(date +%s) + timeout ))
while :; do
  # curl reads the credentials and the body from a config on stdin (-K -), so that neither password
  # appears in the process list
  answer="$(printf 'user = "elastic:%s"\ndata-binary = "{\\"password\\":\\"%s\\"}"\n' \
              "$ELASTIC_PASSWORD" "$KIBANA_SYSTEM_PASSWORD" \
            | curl --silent --show-error -K - -X POST "${es_url}/_security/user/kibana_system/_password" \
                   -H 'Content-Type: application/json' 2>&1)"
  if [ "$answer" = "{}" ]; then
    echo "es-setup: kibana_system password set"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "es-setup: Elasticsearch at ${es_url} did not accept the kibana_system password within ${timeout}s; last answer: ${answer:0:300}" >&2
    exit 1
  fi
  sleep "$pause"
done
