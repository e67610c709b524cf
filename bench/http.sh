#!/usr/bin/env bash
# HTTP side by side: small keep-alive responses through furiwake `mode: http`, HAProxy `mode http`
# and nginx `proxy_pass` (with upstream keepalive), in front of the same nginx, with the same
# wrk (--latency), each balancer pinned to the same core, in one run with interleaved rounds.
# Prints requests/s and p99 latency, and furiwake's ratios to HAProxy, and the CPU other processes
# took on the balancer core during each run (a p99 is only the balancer's where that is near 0).
# WRK_SCRIPT=$PWD/bench/latency-tail.lua adds the tail beyond p99 to each kept wrk output
# (WRK_KEEP=DIR keeps them); TRANSFER=0 runs the keep-alive case alone.
# Run by hand: `npm run bench:http` (or `DURATION=5s ROUNDS=1 bash bench/http.sh`). Not part of the tests.
# Goal (issue 17): furiwake >= 0.9 of HAProxy's requests/s per busy core, with a p99 within 1.5x of HAProxy's.
set -euo pipefail

# DURATION, WARMUP, ROUNDS, CONNECTIONS and the cores as bench_defaults (bench/lib.sh) says:
# furiwake, HAProxy and the nginx proxy on BALANCER_CPU, wrk on CLIENT_CPU, the backend on BACKEND_CPU.
TRANSFER_CONNECTIONS=${TRANSFER_CONNECTIONS:-8}  # the 1 MiB transfers
TRANSFER=${TRANSFER:-1}             # 0: keep-alive requests alone, no 1 MiB transfers
RPS_GOAL=0.9
P99_GOAL=1.5

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_defaults

# --- balancers ----------------------------------------------------------------------------
start_haproxy() {
  haproxy_http_conf "$HAPROXY_PORT" "$NGINX_PORT" >"$TMP/haproxy.in"
  run_haproxy <"$TMP/haproxy.in"
}

start_nginx_proxy() {
  nginx_proxy nginx-proxy "$NGINX_PROXY_PORT" 64
}

# --- load ---------------------------------------------------------------------------------
# wrk's latency ("812.00us", "1.41ms", "1.02s") in ms.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
    if (f < 0) { print "n/a"; exit }
    printf "%.2f", n * f
  }'
}

# per_request -> the balancer's CPU (user + system) per request of the last wrk run, in µs
per_request() {
  awk -v s="$WRK_CPU_S" -v n="$(awk '/ requests in / { print $1 }' <<<"$WRK_OUT")" 'BEGIN { if (s ~ /^[0-9.]+$/ && n > 0) printf "%.1f", s * 1e6 / n; else print "-" }'
}

# run_wrk NAME PORT -> prints "REQUESTS/S P99_MS CPU% CPU_US_PER_REQUEST OTHERS_MS" (CPU of the balancer,
# and what other processes took of its core; "-" for direct).
run_wrk() {
  local name=$1 rps p99
  wrk_measured "$name" "${BALANCER_PID[$name]:-}" -c"$CONNECTIONS" --latency ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} "http://127.0.0.1:$2/"
  [[ -n $WRK_OUT ]] || { echo "n/a n/a - - -"; return 0; }
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$WRK_OUT")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$WRK_OUT")")
  echo "${rps:-n/a} ${p99:-n/a} $WRK_CPU $(per_request) $WRK_OTHERS"
}

# run_transfer NAME PORT -> prints "MB/S CPU% CPU_US_PER_TRANSFER" for 1 MiB responses.
run_transfer() {
  local name=$1 mbps
  wrk_measured "$name-1m" "${BALANCER_PID[$name]:-}" -c"$TRANSFER_CONNECTIONS" "http://127.0.0.1:$2/1m"
  [[ -n $WRK_OUT ]] || { echo "n/a - -"; return 0; }
  mbps=$(to_mbps "$(awk '/^Transfer\/sec:/ { print $2 }' <<<"$WRK_OUT")")
  echo "${mbps:-n/a} $WRK_CPU $(per_request)"
}

# --- main ---------------------------------------------------------------------------------
bench_start

read -r NGINX_PORT HAPROXY_PORT NGINX_PROXY_PORT FURIWAKE_PORT < <(free_ports 4)

log "nginx backend on 127.0.0.1:$NGINX_PORT (core $BACKEND_CPU)"
start_nginx || die "nginx did not start"
log "haproxy (mode http) on 127.0.0.1:$HAPROXY_PORT (core $BALANCER_CPU)"
start_haproxy || die "haproxy did not start"
log "nginx proxy_pass on 127.0.0.1:$NGINX_PROXY_PORT (core $BALANCER_CPU)"
start_nginx_proxy || die "the nginx proxy did not start"
log "furiwake (mode http) on 127.0.0.1:$FURIWAKE_PORT (core $BALANCER_CPU)"
start_furiwake http || die "furiwake did not start"

TARGETS=(direct haproxy nginx furiwake)
declare -A PORT=([direct]=$NGINX_PORT [haproxy]=$HAPROXY_PORT [nginx]=$NGINX_PROXY_PORT [furiwake]=$FURIWAKE_PORT)
for t in "${TARGETS[@]}"; do
  status=$(probe_status "${PORT[$t]}" / || true)
  [[ $status == *" 200 "* || $status == *" 200" ]] || die "$t: GET / answered '${status:-nothing}'"
done

declare -A RPS=() P99=() CPU=() US=() OTHERS=() MBPS=() TCPU=() TUS=()
for ((round = 1; round <= ROUNDS; round++)); do
  for t in "${TARGETS[@]}"; do
    log "round $round/$ROUNDS: keep-alive requests via $t ($DURATION after $WARMUP warm-up)"
    read -r "RPS[$t.$round]" "P99[$t.$round]" "CPU[$t.$round]" "US[$t.$round]" "OTHERS[$t.$round]" < <(run_wrk "$t" "${PORT[$t]}")
  done
  ((TRANSFER)) || continue
  for t in "${TARGETS[@]}"; do
    log "round $round/$ROUNDS: 1 MiB transfers via $t ($DURATION after $WARMUP warm-up)"
    read -r "MBPS[$t.$round]" "TCPU[$t.$round]" "TUS[$t.$round]" < <(run_transfer "$t" "${PORT[$t]}")
  done
done

# per_core TARGET -> requests/s per fully busy balancer core (median requests/s x 100 / median CPU%)
per_core() {
  awk -v f="$(med RPS "$1")" -v c="$(med CPU "$1")" 'BEGIN { if (f ~ /^[0-9.]+$/ && c ~ /^[0-9.]+$/ && c > 0) printf "%.0f", f * 100 / c; else print "n/a" }'
}
# at_most RATIO GOAL -> met when the ratio is at most the goal (for latencies)
at_most() {
  awk -v r="$1" -v g="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 <= g + 0) print "met"; else print "ABOVE" }'
}

table() {
  printf 'furiwake http bench  %s\n' "$(date -u '+%Y-%m-%d %H:%M:%SZ')"
  printf 'furiwake %s; node %s; %s; %s; wrk -t1 -c%s --latency\n' \
    "$FURIWAKE_AT" "$("$NODE" --version)" \
    "$(haproxy -v 2>/dev/null | head -1 | awk '{ print "haproxy " $3 }')" \
    "$(nginx -v 2>&1 | sed 's|.*nginx/|nginx |')" "$CONNECTIONS"
  printf 'small keep-alive responses (3 bytes); duration %s (warm-up %s) x %s round(s), medians\n' "$DURATION" "$WARMUP" "$ROUNDS"
  printf 'cores: balancer %s, nginx backend %s, wrk %s (of %s); machine %s%% idle before the start\n\n' \
    "$BALANCER_CPU" "$BACKEND_CPU" "$CLIENT_CPU" "$(nproc)" "$IDLE_AT_START"
  local fmt='%-26s %12s %10s %12s %16s %12s\n' t
  printf "$fmt" "" "requests/s" "p99 ms" "balancer CPU" "requests/s/core" "CPU µs/req"
  for t in "${TARGETS[@]}"; do
    local label=$t cpu eff
    case $t in
      direct) label="direct (nginx backend)" ;;
      haproxy) label="haproxy mode http" ;;
      nginx) label="nginx proxy_pass" ;;
      furiwake) label="furiwake mode http" ;;
    esac
    cpu=$(med CPU "$t")
    eff=$(per_core "$t")
    printf "$fmt" "$label" "$(med RPS "$t")" "$(med P99 "$t")" "$(percent "$cpu")" "$eff" "$(med US "$t")"
  done
  if ((TRANSFER)); then
    printf '\n1 MiB responses, wrk -c%s\n' "$TRANSFER_CONNECTIONS"
    local tfmt='%-26s %12s %12s %16s %16s\n'
    printf "$tfmt" "" "MB/s" "balancer CPU" "MB/s per core" "CPU µs/transfer"
    for t in "${TARGETS[@]}"; do
      printf "$tfmt" "$t" "$(med MBPS "$t")" "$(percent "$(med TCPU "$t")")" \
        "$(awk -v f="$(med MBPS "$t")" -v c="$(med TCPU "$t")" 'BEGIN { if (f ~ /^[0-9.]+$/ && c ~ /^[0-9.]+$/ && c > 0) printf "%.0f", f * 100 / c; else print "n/a" }')" "$(med TUS "$t")"
    done
    printf 'furiwake / haproxy: MB/s %s, CPU per transfer %s\n' "$(ratio "$(med MBPS furiwake)" "$(med MBPS haproxy)")" "$(ratio "$(med TUS furiwake)" "$(med TUS haproxy)")"
  fi
  local rr pr cr
  rr=$(ratio "$(med RPS furiwake)" "$(med RPS haproxy)")
  pr=$(ratio "$(med P99 furiwake)" "$(med P99 haproxy)")
  cr=$(ratio "$(per_core furiwake)" "$(per_core haproxy)")
  printf '\nfuriwake / haproxy: requests/s %s, per fully busy balancer core %s (goal >= %s: %s), p99 %s (goal <= %s: %s)\n' \
    "$rr" "$cr" "$RPS_GOAL" "$(verdict "$cr" "$RPS_GOAL")" "$pr" "$P99_GOAL" "$(at_most "$pr" "$P99_GOAL")"
  printf 'per fully busy balancer core (what counts when the machine is busy): furiwake / nginx %s\n' \
    "$(ratio "$(per_core furiwake)" "$(per_core nginx)")"
  printf 'CPU per request, furiwake / haproxy: %s\n' "$(ratio "$(med US furiwake)" "$(med US haproxy)")"
  printf 'furiwake / nginx proxy_pass: requests/s %s, p99 %s\n' \
    "$(ratio "$(med RPS furiwake)" "$(med RPS nginx)")" "$(ratio "$(med P99 furiwake)" "$(med P99 nginx)")"
  # A p99 is the machine's as much as the balancer's: say what else ran on the balancer's core.
  printf 'CPU ms other processes took on the balancer core %s during each keep-alive run (above ~%s: that p99 is not the balancer'"'"'s alone):' \
    "$BALANCER_CPU" "$(awk -v d="${DURATION%s}" 'BEGIN { printf "%.0f", d * 20 }')"
  for t in haproxy nginx furiwake; do printf ' %s %s' "$t" "$(rounds OTHERS "$t")"; done
  printf '\n'
  if ((ROUNDS > 1)); then
    printf '\nevery round, requests/s | p99 ms\n'
    for t in "${TARGETS[@]}"; do printf '%-10s %s | %s | %s µs/req\n' "$t" "$(rounds RPS "$t")" "$(rounds P99 "$t")" "$(rounds US "$t")"; done
    if ((TRANSFER)); then
      printf 'every round, 1 MiB transfers MB/s | CPU µs per transfer\n'
      for t in "${TARGETS[@]}"; do printf '%-10s %s | %s\n' "$t" "$(rounds MBPS "$t")" "$(rounds TUS "$t")"; done
    fi
  fi
}

save_table http-latest.txt
