#!/usr/bin/env bash
# New tcp connections: furiwake `mode: tcp` beside HAProxy `mode tcp` and beside the floor of any
# Node balancer on libuv's stream handles (bench/tcp-floor.ts, a bare relay on the handles
# furiwake uses), in one interleaved run, the three pinned to the same core in front of the same
# nginx. For each: new connections/s, the balancer's CPU, connections/s per busy core, CPU µs per
# connection (user and system), and wake-ups per 100 connections of the balancer and of nginx.
# Run by hand: `bash bench/tcp-floor.sh` (DURATION, WARMUP, ROUNDS, CONNECTIONS as in run.sh;
# BEFORE=<commit> adds furiwake at that commit; BATCH=1 the relay holding its writes to the end
# of each turn of its loop).
# See bench/README.md, "What bounds new tcp connections".
set -euo pipefail

DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_defaults

bench_start "compare the CPU per connection, not the rates"

read -r NGINX_PORT HAPROXY_PORT FURIWAKE_PORT RELAY_PORT BEFORE_PORT BATCH_PORT < <(free_ports 6)

log "nginx on 127.0.0.1:$NGINX_PORT (core $BACKEND_CPU)"
start_nginx || die "nginx did not start"
log "haproxy on 127.0.0.1:$HAPROXY_PORT (core $BALANCER_CPU)"
run_haproxy < <(haproxy_tcp_conf "127.0.0.1:$HAPROXY_PORT" "127.0.0.1:$NGINX_PORT") || die "haproxy did not start"
TARGETS=(haproxy furiwake relay)
declare -A PORT=([haproxy]=$HAPROXY_PORT [furiwake]=$FURIWAKE_PORT [relay]=$RELAY_PORT)
# BEFORE=<commit>: that commit too, as "before", beside the work tree (a change measured in one run)
if [[ -n ${BEFORE:-} ]]; then
  PORT[before]=$BEFORE_PORT
  log "furiwake at $BEFORE on 127.0.0.1:${PORT[before]} (core $BALANCER_CPU)"
  FURIWAKE_REF=$BEFORE start_furiwake tcp before "${PORT[before]}" || die "furiwake at $BEFORE did not start"
  BEFORE_AT=$FURIWAKE_AT
  TARGETS=(haproxy before furiwake relay)
fi
log "furiwake on 127.0.0.1:$FURIWAKE_PORT (core $BALANCER_CPU)"
start_furiwake tcp || die "furiwake did not start"
log "the bare relay (bench/tcp-floor.ts) on 127.0.0.1:$RELAY_PORT (core $BALANCER_CPU)"
taskset -c "$BALANCER_CPU" "$NODE" "$ROOT/bench/tcp-floor.ts" "$RELAY_PORT" "$NGINX_PORT" >"$TMP/relay.log" 2>&1 &
started relay $!
BALANCER_PID[relay]=$!
wait_listening relay "$RELAY_PORT" $! "$TMP/relay.log" || die "the relay did not start"
# BATCH=1: the relay again with its writes held to the end of each turn of its loop (tcp-floor.ts)
if [[ ${BATCH:-0} == 1 ]]; then
  PORT[batch]=$BATCH_PORT
  taskset -c "$BALANCER_CPU" "$NODE" "$ROOT/bench/tcp-floor.ts" "$BATCH_PORT" "$NGINX_PORT" batch >"$TMP/batch.log" 2>&1 &
  started batch $!
  BALANCER_PID[batch]=$!
  wait_listening batch "$BATCH_PORT" $! "$TMP/batch.log" || die "the batching relay did not start"
  TARGETS+=(batch)
fi

# nginx's worker (the master's child): its wake-ups are the peer's side of the cost.
NGINX_WORKER=$(pgrep -P "${PIDS[0]}" | head -1)
[[ -n $NGINX_WORKER ]] || die "no nginx worker found"
WATCH_PIDS=$NGINX_WORKER

for t in "${TARGETS[@]}"; do
  status=$(probe_status "${PORT[$t]}" / || true)
  [[ $status == *" 200 "* || $status == *" 200" ]] || die "$t: GET / answered '${status:-nothing}'"
done

# Per round and target: R (connections/s), CPU (%), EFF (per busy core), US/SY (CPU µs per
# connection), BW/NW (wake-ups per 100 connections of the balancer and of nginx).
declare -A R=() CPU=() EFF=() US=() SY=() TOT=() BW=() NW=()
for ((round = 1; round <= ROUNDS; round++)); do
  for t in "${TARGETS[@]}"; do
    k=$t.$round
    log "round $round/$ROUNDS: new connections via $t ($DURATION after $WARMUP warm-up)"
    wrk_measured "$t close" "${BALANCER_PID[$t]}" -c"$CONNECTIONS" -H 'Connection: close' "http://127.0.0.1:${PORT[$t]}/"
    [[ -n $WRK_OUT ]] || die "wrk failed against $t"
    secs=$(awk '/ requests in / { sub(/s,?$/, "", $4); print $4 }' <<<"$WRK_OUT")
    total=$(awk '/ requests in / { print $1 }' <<<"$WRK_OUT")
    R[$k]=$(awk -v n="$total" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
    CPU[$k]=$WRK_CPU
    EFF[$k]=$(awk -v f="${R[$k]}" -v c="$WRK_CPU" 'BEGIN { printf "%.0f", f * 100 / c }')
    read -r bw nw <<<"$WRK_SWITCHES"
    read -r "US[$k]" "SY[$k]" "TOT[$k]" "BW[$k]" "NW[$k]" < <(awk -v n="$total" -v u="$WRK_USER_S" -v s="$WRK_SYS_S" -v bw="$bw" -v nw="$nw" \
      'BEGIN { printf "%.1f %.1f %.1f %.0f %.0f\n", u * 1e6 / n, s * 1e6 / n, (u + s) * 1e6 / n, bw * 100 / n, nw * 100 / n }')
  done
done

{
  printf 'bench/tcp-floor.sh, %s, furiwake at %s, %s rounds x %s, %s connections, machine %s%% idle at start\n' \
    "$(date -u '+%Y-%m-%d %H:%M UTC')" "$FURIWAKE_AT" "$ROUNDS" "$DURATION" "$CONNECTIONS" "$IDLE_AT_START"
  [[ -z ${BEFORE:-} ]] || printf 'before: furiwake at %s\n' "$BEFORE_AT"
  printf 'medians of the rounds; new connections (wrk -H "Connection: close"), one member connection each\n\n'
  printf '%-10s %10s %6s %10s %9s %9s %9s %10s %10s %9s\n' balancer 'conn/s' cpu 'conn/s/core' 'user µs' 'sys µs' 'cpu µs' 'wakes/100' 'nginx/100' 'per core'
  eff_h=$(med EFF haproxy)
  for t in "${TARGETS[@]}"; do
    printf '%-10s %10s %6s %10s %9s %9s %9s %10s %10s %9s\n' "$t" "$(med R "$t")" "$(percent "$(med CPU "$t")")" "$(med EFF "$t")" \
      "$(med US "$t")" "$(med SY "$t")" "$(med TOT "$t")" "$(med BW "$t")" "$(med NW "$t")" "$(ratio "$(med EFF "$t")" "$eff_h")"
  done
  printf '\nper round (conn/s/core; cpu µs per connection):\n'
  for t in "${TARGETS[@]}"; do printf '  %-10s %s; %s\n' "$t" "$(rounds EFF "$t")" "$(rounds TOT "$t")"; done
  printf '\n"per core": connections/s per busy core against HAProxy'"'"'s. relay: the bare Node relay on the same\n'
  printf 'handles (bench/tcp-floor.ts), the floor under any Node balancer built this way.\n'
} | tee "$TMP/table.txt"
mkdir -p "$RESULTS_DIR"
cp "$TMP/table.txt" "$RESULTS_DIR/tcp-floor-latest.txt"
