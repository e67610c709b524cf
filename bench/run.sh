#!/usr/bin/env bash
# furiwake vs HAProxy, side by side: same nginx backend, same wrk, same cores.
# Run by hand: `npm run bench` (or `DURATION=5s bash bench/run.sh`). Not part of the tests.
# See bench/README.md for what is measured and how to read the table.
set -euo pipefail

# DURATION, WARMUP, ROUNDS, CONNECTIONS (keep-alive and new-connection tests) and the cores as
# bench_defaults (bench/lib.sh) says: HAProxy and furiwake on BALANCER_CPU, wrk on CLIENT_CPU, nginx on BACKEND_CPU.
TRANSFER_CONNECTIONS=${TRANSFER_CONNECTIONS:-8}  # 1 MiB transfer test
MEASUREMENTS=${MEASUREMENTS:-keepalive close transfer} # a subset, to look at one closely

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_defaults

[[ -n ${MEASUREMENTS// /} ]] || die "MEASUREMENTS is empty"
for m in $MEASUREMENTS; do
  [[ $m =~ ^(keepalive|close|transfer)$ ]] || die "MEASUREMENTS: '$m' is none of keepalive close transfer"
done

# --- balancers ----------------------------------------------------------------------------
start_haproxy() {
  # (not piped: run_haproxy must set BALANCER_PID in this shell, not in a pipeline's subshell)
  run_haproxy < <(haproxy_tcp_conf "127.0.0.1:$HAPROXY_PORT" "127.0.0.1:$NGINX_PORT")
}

# --- load ---------------------------------------------------------------------------------
# run_wrk NAME PORT KIND -> prints "FIGURE CPU": requests/s (or MB/s for "transfer"), and the
# balancer's CPU use during the measurement in % of one core ("-" for the direct runs).
run_wrk() {
  local name=$1 port=$2 kind=$3 url="http://127.0.0.1:$2/" conns=$CONNECTIONS figure
  local args=()
  case $kind in
    keepalive) ;;
    close) args=(-H 'Connection: close') ;;
    transfer) url="${url}1m"; conns=$TRANSFER_CONNECTIONS ;;
  esac
  wrk_measured "$name $kind" "${BALANCER_PID[$name]:-}" -c"$conns" "${args[@]}" "$url"
  [[ -n $WRK_OUT ]] || { echo "n/a -"; return 0; }
  if [[ $kind == transfer ]]; then
    figure=$(to_mbps "$(awk '/^Transfer\/sec:/ { print $2 }' <<<"$WRK_OUT")")
  else
    figure=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$WRK_OUT")
  fi
  echo "${figure:-n/a} $WRK_CPU"
}

# --- main ---------------------------------------------------------------------------------
bench_start

read -r NGINX_PORT HAPROXY_PORT FURIWAKE_PORT < <(free_ports 3)

log "nginx on 127.0.0.1:$NGINX_PORT (core $BACKEND_CPU)"
start_nginx || die "nginx did not start"
log "haproxy on 127.0.0.1:$HAPROXY_PORT (core $BALANCER_CPU)"
start_haproxy || die "haproxy did not start"
log "furiwake on 127.0.0.1:$FURIWAKE_PORT (core $BALANCER_CPU)"
FURIWAKE_OK=1
start_furiwake tcp || { FURIWAKE_OK=0; log "furiwake did not start: its column will read n/a"; }

TARGETS=(direct haproxy furiwake)
declare -A PORT=([direct]=$NGINX_PORT [haproxy]=$HAPROXY_PORT [furiwake]=$FURIWAKE_PORT)
for t in "${TARGETS[@]}"; do
  [[ $t == furiwake && $FURIWAKE_OK == 0 ]] && continue
  for path in / /1m; do
    status=$(probe_status "${PORT[$t]}" "$path" || true)
    [[ $status == *" 200 "* || $status == *" 200" ]] || die "$t: GET $path answered '${status:-nothing}'"
  done
done

# Rounds are interleaved (every target once per round), so a disturbance that comes and goes
# (another process on the machine) hits all targets alike; the table shows each target's median.
declare -A R=() CPU=() EFF=()
read -r -a KINDS <<<"$MEASUREMENTS"
for ((round = 1; round <= ROUNDS; round++)); do
  for kind in "${KINDS[@]}"; do
    for t in "${TARGETS[@]}"; do
      k=$t.$kind.$round
      if [[ $t == furiwake && $FURIWAKE_OK == 0 ]]; then R[$k]=n/a; CPU[$k]=-; EFF[$k]=-; continue; fi
      log "round $round/$ROUNDS: $kind via $t ($DURATION after $WARMUP warm-up)"
      read -r "R[$k]" "CPU[$k]" < <(run_wrk "$t" "${PORT[$t]}" "$kind")
      # Throughput per balancer core: what the figure would be if the balancer were the limit.
      EFF[$k]=$(awk -v f="${R[$k]}" -v c="${CPU[$k]}" 'BEGIN { if (f ~ /^[0-9.]+$/ && c ~ /^[0-9.]+$/ && c > 0) printf "%.0f", f * 100 / c; else print "-" }')
    done
  done
done


declare -A LABEL=([keepalive]="keep-alive requests/s" [close]="new connections/s" [transfer]="1 MiB transfers, MB/s")
declare -A GOAL=([keepalive]=0.9 [close]=0.6 [transfer]=0.8)

table() {
  printf 'furiwake bench  %s\n' "$(date -u '+%Y-%m-%d %H:%M:%SZ')"
  printf 'furiwake %s; node %s; %s; %s; wrk -t1\n' \
    "$FURIWAKE_AT" "$("$NODE" --version)" \
    "$(haproxy -v 2>/dev/null | head -1 | awk '{ print "haproxy " $3 }')" \
    "$(nginx -v 2>&1 | sed 's|.*nginx/|nginx |')"
  printf 'duration %s (warm-up %s) x %s round(s), medians; connections %s (transfers %s)\n' \
    "$DURATION" "$WARMUP" "$ROUNDS" "$CONNECTIONS" "$TRANSFER_CONNECTIONS"
  printf 'cores: balancer %s, nginx %s, wrk %s (of %s); machine %s%% idle before the start\n\n' \
    "$BALANCER_CPU" "$BACKEND_CPU" "$CLIENT_CPU" "$(nproc)" "$IDLE_AT_START"
  local fmt='%-24s %10s %10s %10s %17s %6s %6s\n' kind r d h f
  printf "$fmt" measurement direct haproxy furiwake furiwake/haproxy goal ""
  for kind in "${KINDS[@]}"; do
    d=$(med R direct "$kind") h=$(med R haproxy "$kind") f=$(med R furiwake "$kind")
    r=$(ratio "$f" "$h")
    printf "$fmt" "${LABEL[$kind]}" "$d" "$h" "$f" "$r" ">=${GOAL[$kind]}" "$(verdict "$r" "${GOAL[$kind]}")"
  done
  printf '\nbalancer CPU in %% of its one core (near 100: the balancer is the limit; well below: nginx and wrk are),\n'
  printf 'and the figure per fully busy balancer core (figure x 100 / CPU%%): the cost of each balancer, which\n'
  printf 'holds when the load generator is the limit or the machine is busy\n'
  fmt='%-24s %8s %8s %13s %13s %17s %6s %6s\n'
  printf "$fmt" "" "haproxy" "furiwake" "haproxy/core" "furiwake/core" "furiwake/haproxy" goal ""
  for kind in "${KINDS[@]}"; do
    h=$(med EFF haproxy "$kind") f=$(med EFF furiwake "$kind")
    r=$(ratio "$f" "$h")
    printf "$fmt" "${LABEL[$kind]}" "$(percent "$(med CPU haproxy "$kind")")" "$(percent "$(med CPU furiwake "$kind")")" "$h" "$f" "$r" \
      ">=${GOAL[$kind]}" "$(verdict "$r" "${GOAL[$kind]}")"
  done
  if ((ROUNDS > 1)); then
    printf '\nevery round (direct | haproxy | furiwake)\n'
    for kind in "${KINDS[@]}"; do
      printf '%-24s %s | %s | %s\n' "${LABEL[$kind]}" "$(rounds R direct "$kind")" "$(rounds R haproxy "$kind")" "$(rounds R furiwake "$kind")"
    done
  fi
}

save_table latest.txt
((FURIWAKE_OK)) || die "furiwake did not start (see above)"
