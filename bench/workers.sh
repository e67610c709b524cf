#!/usr/bin/env bash
# global.workers side by side with HAProxy's nbthread: requests/s and the balancer's CPU seconds
# per 1,000 requests, in `tcp` and `http` mode, keep-alive and new connections, in one run with
# interleaved rounds (the machinery of bench/run.sh and bench/http.sh: nginx member, wrk, medians).
#
# Six balancers, each one process with a tcp and an http service in front of the same nginx:
#   fw-1        furiwake workers: 1, on core ONE_CPU
#   fw-N        furiwake workers: N, on cores BALANCER_CPUS
#   fw-N-1core  furiwake workers: N, all on core ONE_CPU   (the cost of coordination)
#   hap-1, hap-N, hap-N-1core   HAProxy nbthread 1 / N the same way
# On a 2-core machine the load generator needs a core too, so requests/s alone cannot show
# scaling; CPU per request (user + system of the whole process, from /proc/PID/stat) does.
# Goals (issue 14): fw-N-1core >= 0.9 x fw-1 requests/s; fw-N's CPU per request <= 1.1 x fw-1's;
# requests per CPU second (per-core throughput) >= 0.9 x HAProxy's at the same thread count.
# Run by hand: `npm run bench:workers` (or `DURATION=4s WARMUP=1s ROUNDS=3 bash bench/workers.sh`).
set -euo pipefail

# DURATION, WARMUP, ROUNDS, CONNECTIONS, CLIENT_CPU and BACKEND_CPU as bench_defaults (bench/lib.sh) says.
WORKERS=${WORKERS:-2}                      # N: furiwake's workers and HAProxy's nbthread
ONE_CPU=${ONE_CPU:-0}                      # the 1-thread balancers, and N threads on one core
BALANCER_CPUS=${BALANCER_CPUS:-0-$(($(nproc) - 1))} # the N-thread balancers
MODES=${MODES:-tcp http}
KINDS=${KINDS:-keepalive close}
COORDINATION_GOAL=0.9
CPU_GOAL=1.1
HAPROXY_GOAL=0.9

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_defaults

[[ $WORKERS =~ ^[1-9][0-9]*$ ]] || die "WORKERS must be a positive integer, got '$WORKERS'"
for m in $MODES; do [[ $m =~ ^(tcp|http)$ ]] || die "MODES: '$m' is neither tcp nor http"; done
for k in $KINDS; do [[ $k =~ ^(keepalive|close)$ ]] || die "KINDS: '$k' is neither keepalive nor close"; done

N=$WORKERS
TARGETS=(fw-1 "fw-$N" "fw-$N-1core" hap-1 "hap-$N" "hap-$N-1core")
declare -A THREADS=([fw-1]=1 [fw-$N]=$N [fw-$N-1core]=$N [hap-1]=1 [hap-$N]=$N [hap-$N-1core]=$N)
declare -A CPUS=([fw-1]=$ONE_CPU [fw-$N]=$BALANCER_CPUS [fw-$N-1core]=$ONE_CPU [hap-1]=$ONE_CPU [hap-$N]=$BALANCER_CPUS [hap-$N-1core]=$ONE_CPU)
declare -A PORT=()

# --- balancers: each one process with a tcp and an http service --------------------------
start_furiwake_workers() {
  local name=$1 dir=$TMP/$1
  mkdir -p "$dir"
  cat >"$dir/furiwake.yaml" <<EOF
global: { log-level: warn, workers: ${THREADS[$name]} }
services:
  tcp: { listen: 127.0.0.1:${PORT[$name.tcp]}, mode: tcp, pool: p }
  http: { listen: 127.0.0.1:${PORT[$name.http]}, mode: http, pool: p }
pools:
  p:
    algorithm: round-robin
    members: [ { address: 127.0.0.1:$NGINX_PORT } ]
EOF
  run_furiwake "$name" "$dir/furiwake.yaml" "${CPUS[$name]}" "${PORT[$name.tcp]}" "${PORT[$name.http]}"
}

start_haproxy_threads() {
  local name=$1 dir=$TMP/$1
  mkdir -p "$dir"
  { haproxy_globals "${THREADS[$name]}" 8192; cat; } >"$dir/haproxy.cfg" <<EOF
frontend tcp
  mode tcp
  bind 127.0.0.1:${PORT[$name.tcp]}
  default_backend tcp
backend tcp
  mode tcp
  server m1 127.0.0.1:$NGINX_PORT
frontend http
  mode http
  option http-keep-alive
  option forwardfor
  timeout http-keep-alive 60s
  bind 127.0.0.1:${PORT[$name.http]}
$(haproxy_forwarded)
  default_backend http
backend http
  mode http
  http-reuse always
  server m1 127.0.0.1:$NGINX_PORT
EOF
  taskset -c "${CPUS[$name]}" haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
  started "$name" $!
  BALANCER_PID[$name]=$!
  wait_listening "$name" "${PORT[$name.tcp]}" $! "$dir/haproxy.log" && wait_listening "$name" "${PORT[$name.http]}" $! "$dir/haproxy.log"
}

# --- load ---------------------------------------------------------------------------------
# measure TARGET MODE KIND -> "REQUESTS/S CPU% CPU_MS_PER_1000": the balancer's CPU (every
# thread) while wrk ran, per 1,000 requests wrk completed; "n/a" when wrk failed.
measure() {
  local t=$1 mode=$2 kind=$3 args=() rps requests
  [[ $kind == close ]] && args=(-H 'Connection: close')
  wrk_measured "$t $mode $kind" "${BALANCER_PID[$t]}" -c"$CONNECTIONS" "${args[@]}" "http://127.0.0.1:${PORT[$t.$mode]}/"
  [[ -n $WRK_OUT ]] || { echo "n/a - n/a"; return 0; }
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$WRK_OUT")
  requests=$(awk '/ requests in / { print $1 }' <<<"$WRK_OUT")
  awk -v rps="${rps:-n/a}" -v cpu="$WRK_CPU" -v s="$WRK_CPU_S" -v n="${requests:-0}" 'BEGIN {
    printf "%s %s %s\n", rps, cpu, (n > 0 && s ~ /^[0-9.]+$/) ? sprintf("%.1f", s * 1e6 / n) : "n/a"
  }'
}

# --- main ---------------------------------------------------------------------------------
((N > 1)) || die "WORKERS must be above 1 to compare with one worker"
BALANCER_CPU=$ONE_CPU
bench_start
ONE_CPU=$BALANCER_CPU
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
furiwake_dir

read -r -a ports < <(free_ports $((1 + 2 * ${#TARGETS[@]})))
NGINX_PORT=${ports[0]}
i=1
for t in "${TARGETS[@]}"; do PORT[$t.tcp]=${ports[i]} PORT[$t.http]=${ports[i + 1]}; i=$((i + 2)); done

log "nginx member on 127.0.0.1:$NGINX_PORT (core $BACKEND_CPU)"
start_nginx || die "nginx did not start"
for t in "${TARGETS[@]}"; do
  log "$t: ${THREADS[$t]} thread(s) on core(s) ${CPUS[$t]}, tcp on ${PORT[$t.tcp]}, http on ${PORT[$t.http]}"
  if [[ $t == fw-* ]]; then start_furiwake_workers "$t" || die "$t did not start"
  else start_haproxy_threads "$t" || die "$t did not start"; fi
  # with workers, the port accepts (and turns clients away: SIGPIPE, reset) a moment before the
  # workers serve it
  for mode in tcp http; do
    for _ in $(seq 1 100); do
      status=$(trap '' PIPE; probe_status "${PORT[$t.$mode]}" / 2>/dev/null) || status=""
      [[ $status == *" 200 "* || $status == *" 200" ]] && break
      sleep 0.1
    done
    [[ $status == *" 200 "* || $status == *" 200" ]] || die "$t $mode: GET / answered '${status:-nothing}'"
  done
done

read -r -a MODE_LIST <<<"$MODES"
read -r -a KIND_LIST <<<"$KINDS"
# Interleaved: every target once per round, so a disturbance that comes and goes (the machine is
# shared) hits all alike; the table shows each target's median over the rounds.
declare -A RPS=() CPU=() MS=()
for ((round = 1; round <= ROUNDS; round++)); do
  for mode in "${MODE_LIST[@]}"; do
    for kind in "${KIND_LIST[@]}"; do
      for t in "${TARGETS[@]}"; do
        k=$t.$mode.$kind.$round
        log "round $round/$ROUNDS: $mode $kind via $t ($DURATION after $WARMUP warm-up)"
        read -r "RPS[$k]" "CPU[$k]" "MS[$k]" < <(measure "$t" "$mode" "$kind")
      done
    done
  done
done

# per_cpu_second MS -> requests per CPU second of the balancer (1e6 / CPU ms per 1,000 requests)
per_cpu_second() { awk -v m="$1" 'BEGIN { if (m ~ /^[0-9.]+$/ && m > 0) printf "%.0f", 1e6 / m; else print "n/a" }'; }
# at_most RATIO GOAL -> met when the ratio is at most the goal
at_most() { awk -v r="$1" -v g="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 <= g + 0) print "met"; else print "ABOVE" }'; }

table() {
  printf 'furiwake workers bench  %s\n' "$(date -u '+%Y-%m-%d %H:%M:%SZ')"
  printf 'furiwake %s; node %s; %s; nginx member; wrk -t1 -c%s\n' "$FURIWAKE_AT" "$("$NODE" --version)" \
    "$(haproxy -v 2>/dev/null | head -1 | awk '{ print "haproxy " $3 }')" "$CONNECTIONS"
  printf 'duration %s (warm-up %s) x %s round(s), medians; N = %s\n' "$DURATION" "$WARMUP" "$ROUNDS" "$N"
  printf 'cores: 1-thread and N-on-1core balancers %s, N-thread balancers %s, nginx %s, wrk %s (of %s)\n' \
    "$ONE_CPU" "$BALANCER_CPUS" "$BACKEND_CPU" "$CLIENT_CPU" "$(nproc)"
  printf 'machine %s%% idle before the start, load average %s\n' "$IDLE_AT_START" "$LOAD_AT_START"
  printf 'CPU: user + system of the balancer process (all threads) while wrk ran, in %% of one core and in ms per 1,000 requests\n'
  local fmt='%-14s %11s %8s %14s %14s\n' mode kind t
  for mode in "${MODE_LIST[@]}"; do
    for kind in "${KIND_LIST[@]}"; do
      printf '\n%s, %s\n' "$mode" "$([[ $kind == keepalive ]] && echo 'keep-alive requests' || echo 'a new connection per request')"
      printf "$fmt" "" requests/s CPU "CPU ms/1000" "requests/CPU-s"
      for t in "${TARGETS[@]}"; do
        printf "$fmt" "$t" "$(med RPS "$t" "$mode" "$kind")" "$(percent "$(med CPU "$t" "$mode" "$kind")")" \
          "$(med MS "$t" "$mode" "$kind")" "$(per_cpu_second "$(med MS "$t" "$mode" "$kind")")"
      done
      local r c h1 hn
      r=$(ratio "$(med RPS "fw-$N-1core" "$mode" "$kind")" "$(med RPS fw-1 "$mode" "$kind")")
      printf 'coordination: fw-%s-1core / fw-1 requests/s %s (goal >= %s: %s); ' "$N" "$r" "$COORDINATION_GOAL" "$(verdict "$r" "$COORDINATION_GOAL")"
      r=$(ratio "$(med MS "fw-$N-1core" "$mode" "$kind")" "$(med MS fw-1 "$mode" "$kind")")
      printf 'CPU per request %s\n' "$r"
      c=$(ratio "$(med MS "fw-$N" "$mode" "$kind")" "$(med MS fw-1 "$mode" "$kind")")
      printf 'CPU per request, fw-%s / fw-1: %s (goal <= %s: %s); hap-%s / hap-1: %s\n' "$N" "$c" "$CPU_GOAL" "$(at_most "$c" "$CPU_GOAL")" \
        "$N" "$(ratio "$(med MS "hap-$N" "$mode" "$kind")" "$(med MS hap-1 "$mode" "$kind")")"
      h1=$(ratio "$(med MS hap-1 "$mode" "$kind")" "$(med MS fw-1 "$mode" "$kind")")
      hn=$(ratio "$(med MS "hap-$N" "$mode" "$kind")" "$(med MS "fw-$N" "$mode" "$kind")")
      printf 'requests per CPU second, furiwake / haproxy: 1 thread %s, %s threads %s (goal >= %s: %s, %s)\n' \
        "$h1" "$N" "$hn" "$HAPROXY_GOAL" "$(verdict "$h1" "$HAPROXY_GOAL")" "$(verdict "$hn" "$HAPROXY_GOAL")"
    done
  done
  if ((ROUNDS > 1)); then
    printf '\nevery round, requests/s | CPU ms per 1,000 requests\n'
    for mode in "${MODE_LIST[@]}"; do
      for kind in "${KIND_LIST[@]}"; do
        for t in "${TARGETS[@]}"; do
          printf '%-4s %-9s %-12s %s | %s\n' "$mode" "$kind" "$t" "$(rounds RPS "$t" "$mode" "$kind")" "$(rounds MS "$t" "$mode" "$kind")"
        done
      done
    done
  fi
}

save_table workers-latest.txt
