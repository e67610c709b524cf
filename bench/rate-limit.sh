#!/usr/bin/env bash
# Rate limits side by side: small keep-alive http responses through furiwake `mode: http` without
# and with a `rate-limit` on every request (high enough never to refuse: every request still looks
# its client up, refills and takes a token), beside HAProxy `mode http` without and with
# `http-request track-sc0 src` and a deny on `sc_http_req_rate(0)` (a stick table storing
# http_req_rate, the same never-reached bound), in front of the same nginx, same wrk, one run with
# interleaved rounds, every balancer on one thread pinned to the same core.
# Prints requests/s, what the limit costs each (limited / unlimited), and furiwake's ratios to HAProxy.
# The table's own cost per request, without the network, is bench/rate-limit-table.ts.
# Run by hand: `bash bench/rate-limit.sh` (or `DURATION=5s ROUNDS=1 bash bench/rate-limit.sh`). Not part of the tests.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_defaults

# haproxy_as NAME PORT TRACK: HAProxy `mode http` on PORT; TRACK=1 tracks every client's request rate.
haproxy_as() {
  local name=$1 port=$2 track=$3 rules=""
  if ((track)); then
    rules="  stick-table type ip size 64k expire 30s store http_req_rate(1s)
  http-request track-sc0 src
  http-request deny deny_status 429 if { sc_http_req_rate(0) gt 100000000 }"
  fi
  { haproxy_http_defaults; cat; } >"$TMP/$name.cfg" <<CFG
frontend bench
  bind 127.0.0.1:$port
$(haproxy_forwarded)
$rules
  default_backend p
backend p
  balance roundrobin
  http-reuse always
  server m1 127.0.0.1:$NGINX_PORT
CFG
  taskset -c "$BALANCER_CPU" haproxy -db -f "$TMP/$name.cfg" >"$TMP/$name.log" 2>&1 &
  started "$name" $!
  BALANCER_PID[$name]=$!
  wait_listening "$name" "$port" $! "$TMP/$name.log"
}

# furiwake_as NAME PORT LIMIT: furiwake `mode: http`, one loop, with LIMIT as the service's extra keys.
furiwake_as() {
  local name=$1 port=$2 limit=$3
  cat >"$TMP/$name.yaml" <<YAML
global: { log-level: warn, workers: 1 }
services:
  bench: { listen: 127.0.0.1:$port, mode: http, pool: p, access-log: false $limit }
pools:
  p:
    algorithm: round-robin
    members: [ { address: 127.0.0.1:$NGINX_PORT } ]
YAML
  run_furiwake "$name" "$TMP/$name.yaml" "$BALANCER_CPU" "$port"
}

run_wrk() {
  local name=$1 rps
  wrk_measured "$name" "${BALANCER_PID[$name]:-}" -c"$CONNECTIONS" "http://127.0.0.1:$2/"
  [[ -n $WRK_OUT ]] || { echo "n/a -"; return 0; }
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$WRK_OUT")
  echo "${rps:-n/a} $WRK_CPU"
}

bench_start
furiwake_dir

read -r NGINX_PORT HAPROXY_PORT HAPROXY_TRACK_PORT FURIWAKE_PORT FURIWAKE_LIMIT_PORT < <(free_ports 5)

log "nginx backend on 127.0.0.1:$NGINX_PORT (core $BACKEND_CPU)"
start_nginx || die "nginx did not start"
haproxy_as haproxy "$HAPROXY_PORT" 0 || die "haproxy did not start"
haproxy_as haproxy-track "$HAPROXY_TRACK_PORT" 1 || die "haproxy (track-sc0) did not start"
furiwake_as furiwake "$FURIWAKE_PORT" "" || die "furiwake did not start"
furiwake_as furiwake-limit "$FURIWAKE_LIMIT_PORT" ", rate-limit: { requests: 1000000/s, burst: 100000000 }" || die "furiwake (rate-limit) did not start"

TARGETS=(haproxy haproxy-track furiwake furiwake-limit)
declare -A PORT=([haproxy]=$HAPROXY_PORT [haproxy-track]=$HAPROXY_TRACK_PORT [furiwake]=$FURIWAKE_PORT [furiwake-limit]=$FURIWAKE_LIMIT_PORT)
for t in "${TARGETS[@]}"; do
  status=$(probe_status "${PORT[$t]}" / || true)
  [[ $status == *" 200 "* || $status == *" 200" ]] || die "$t: GET / answered '${status:-nothing}'"
done

declare -A RPS=() CPU=()
for ((round = 1; round <= ROUNDS; round++)); do
  for t in "${TARGETS[@]}"; do
    log "round $round/$ROUNDS: keep-alive requests via $t ($DURATION after $WARMUP warm-up)"
    read -r "RPS[$t.$round]" "CPU[$t.$round]" < <(run_wrk "$t" "${PORT[$t]}")
  done
done

per_core() {
  awk -v f="$(med RPS "$1")" -v c="$(med CPU "$1")" 'BEGIN { if (f ~ /^[0-9.]+$/ && c ~ /^[0-9.]+$/ && c > 0) printf "%.0f", f * 100 / c; else print "n/a" }'
}

table() {
  printf 'furiwake rate-limit bench  %s\n' "$(date -u '+%Y-%m-%d %H:%M:%SZ')"
  printf 'furiwake %s; node %s; %s; wrk -t1 -c%s, one client address\n' \
    "$FURIWAKE_AT" "$("$NODE" --version)" "$(haproxy -v 2>/dev/null | head -1 | awk '{ print "haproxy " $3 }')" "$CONNECTIONS"
  printf 'small keep-alive responses; duration %s (warm-up %s) x %s round(s), medians; machine %s%% idle before the start\n\n' "$DURATION" "$WARMUP" "$ROUNDS" "$IDLE_AT_START"
  local fmt='%-44s %12s %12s %16s\n' t
  printf "$fmt" "" "requests/s" "balancer CPU" "requests/s/core"
  for t in "${TARGETS[@]}"; do
    local label=$t
    case $t in
      haproxy) label="haproxy mode http" ;;
      haproxy-track) label="haproxy + track-sc0 src, sc_http_req_rate" ;;
      furiwake) label="furiwake mode http" ;;
      furiwake-limit) label="furiwake + rate-limit (requests, burst)" ;;
    esac
    printf "$fmt" "$label" "$(med RPS "$t")" "$(percent "$(med CPU "$t")")" "$(per_core "$t")"
  done
  printf '\nwhat the limit keeps (limited / unlimited, requests/s per busy core): haproxy %s, furiwake %s\n' \
    "$(ratio "$(per_core haproxy-track)" "$(per_core haproxy)")" "$(ratio "$(per_core furiwake-limit)" "$(per_core furiwake)")"
  printf 'furiwake / haproxy with the limit: requests/s %s, per busy core %s\n' \
    "$(ratio "$(med RPS furiwake-limit)" "$(med RPS haproxy-track)")" "$(ratio "$(per_core furiwake-limit)" "$(per_core haproxy-track)")"
  if ((ROUNDS > 1)); then
    printf '\nevery round, requests/s\n'
    for t in "${TARGETS[@]}"; do printf '%-16s %s\n' "$t" "$(rounds RPS "$t")"; done
  fi
}

save_table rate-limit-latest.txt
