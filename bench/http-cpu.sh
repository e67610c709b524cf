#!/usr/bin/env bash
# CPU per http keep-alive request, user and system apart, of HAProxy `mode http` and of furiwake
# at one or more commits, side by side in one run: the figure a busy machine disturbs least, and
# the way to tell what a change is worth (A/B of commits in interleaved rounds).
#   bash bench/http-cpu.sh [COMMIT...]        (default: HEAD; `wt` = the work tree)
# `relay` as a COMMIT adds the bare Node relay of bench/tcp-floor.ts (no http at all, one member
# connection per client): the least a Node balancer on these handles spends per request.
# A COMMIT may carry node options after a `+`, each `+` a space: `HEAD+--max-semi-space-size=64`.
# Each furiwake runs `workers: 1`, each balancer pinned to BALANCER_CPU, in front of the nginx
# backend of bench/http.sh; each round, each target gets a warm-up `wrk -dWARMUP` (1s), then
# `wrk -t1 -cCONNECTIONS -dDURATION` while its /proc/PID/stat is read before and after (utime, stime,
# minor faults). Prints a line per round and target, then the medians and the ratios to HAProxy.
set -euo pipefail

DURATION=${DURATION:-4s}
WARMUP=${WARMUP:-1s}
ROUNDS=${ROUNDS:-5}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_defaults

(($# > 0)) || set -- HEAD
bench_start
declare -A PORT=() PID_OF=()
read -r NGINX_PORT HAPROXY_PORT < <(free_ports 2)
start_nginx || die "nginx did not start"
haproxy_http_conf "$HAPROXY_PORT" "$NGINX_PORT" >"$TMP/haproxy.in"
run_haproxy <"$TMP/haproxy.in" || die "haproxy did not start"
TARGETS=(haproxy)
PORT[haproxy]=$HAPROXY_PORT
PID_OF[haproxy]=${BALANCER_PID[haproxy]}

FURIWAKE_WORKERS=1
top=$TMP
for spec in "$@"; do
  if [[ $spec == relay ]]; then
    read -r RELAY_PORT < <(free_ports 1)
    taskset -c "$BALANCER_CPU" "$NODE" "$ROOT/bench/tcp-floor.ts" "$RELAY_PORT" "$NGINX_PORT" >"$TMP/relay.log" 2>&1 &
    started relay $!
    wait_listening relay "$RELAY_PORT" $! "$TMP/relay.log"
    TARGETS+=(relay)
    PORT[relay]=$RELAY_PORT
    PID_OF[relay]=$!
    continue
  fi
  ref=${spec%%+*} opts=""
  [[ $spec == *+* ]] && opts=${spec#*+}
  FURIWAKE_NODE_OPTIONS=${opts//+/ }
  if [[ $ref == wt ]]; then unset FURIWAKE_REF; else FURIWAKE_REF=$ref; fi
  read -r FURIWAKE_PORT < <(free_ports 1)
  TMP=$top/furiwake-${#TARGETS[@]}
  mkdir -p "$TMP"
  start_furiwake http || die "furiwake $spec did not start"
  TMP=$top
  TARGETS+=("$spec")
  PORT[$spec]=$FURIWAKE_PORT
  PID_OF[$spec]=${BALANCER_PID[furiwake]}
  log "furiwake $spec: $FURIWAKE_AT"
done

# stat PID -> "utime stime minflt" (clock ticks, ticks, faults)
stat_of() { local s; s=$(<"/proc/$1/stat"); s=${s##*) }; awk '{ print $12, $13, $8 }' <<<"$s"; }
hz=$(getconf CLK_TCK)
declare -A USER=() SYS=() TOTAL=()
printf '%-5s %-28s %9s %8s %8s %8s %14s\n' round target requests user sys total 'faults/1k req'
for ((round = 1; round <= ROUNDS; round++)); do
  for t in "${TARGETS[@]}"; do
    pid=${PID_OF[$t]} url="http://127.0.0.1:${PORT[$t]}/"
    taskset -c "$CLIENT_CPU" wrk -t1 -d"$WARMUP" -c"$CONNECTIONS" "$url" >/dev/null 2>&1 || true
    before=$(stat_of "$pid")
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -d"$DURATION" -c"$CONNECTIONS" "$url" 2>&1) || die "wrk failed against $t: $out"
    after=$(stat_of "$pid")
    n=$(awk '/ requests in / { print $1 }' <<<"$out")
    read -r u s total f < <(awk -v a="$before" -v b="$after" -v n="$n" -v hz="$hz" 'BEGIN {
      split(a, x, " "); split(b, y, " ")
      u = (y[1] - x[1]) / hz * 1e6 / n; s = (y[2] - x[2]) / hz * 1e6 / n
      printf "%.2f %.2f %.2f %.0f\n", u, s, u + s, (y[3] - x[3]) * 1000 / n }')
    USER[$t.$round]=$u SYS[$t.$round]=$s TOTAL[$t.$round]=$total
    printf '%-5s %-28s %9s %8s %8s %8s %14s\n' "$round" "$t" "$n" "$u" "$s" "$total" "$f"
  done
done

printf '\nmedians over %s rounds of %s, CPU µs per request (user + system of the balancer process)\n' "$ROUNDS" "$DURATION"
for t in "${TARGETS[@]}"; do
  printf '%-34s user %6s  sys %6s  total %6s  / haproxy %s\n' "$t" "$(med USER "$t")" "$(med SYS "$t")" "$(med TOTAL "$t")" \
    "$(ratio "$(med TOTAL "$t")" "$(med TOTAL haproxy)")"
done
