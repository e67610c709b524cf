#!/usr/bin/env bash
# HTTP/2 to members, the member side alone: CPU per request of furiwake and of HAProxy in front
# of one nginx taking HTTP/2 in clear text (furiwake `member-protocol: h2c`, HAProxy `proto h2`),
# from h2c clients (h2load, prior knowledge, 1 and 100 streams on each of 10 connections) and from
# HTTP/1.1 clients (wrk -c50, so the client side is furiwake's HTTP/1.1 path, not HTTP/2); beside
# them the floor of any Node balancer on node:http2 (bench/h2-node-floor.ts): a bare client to the
# same member, and a bare h2c-to-h2c proxy. Each balancer pinned to the same core, one worker.
# Prints, per row: requests, requests/s, the balancer's CPU and its CPU (user + system) per request.
# Run by hand: `bash bench/h2-members.sh` (`TARGETS="fw-h1c ha-h1c" ROUNDS=3 ...`; FURIWAKE_REF=<commit>
# measures that commit). Not part of the tests; wrap it in `flock` when others benchmark too.
set -euo pipefail

DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-1}
STREAMS=${STREAMS:-"1 100"}
TARGETS=${TARGETS:-"ha-h2c fw-h2c node-proxy node-client ha-h1c fw-h1c"}
# the member's SETTINGS_MAX_CONCURRENT_STREAMS (nginx's http2_max_concurrent_streams; its default is 128:
# then 1,000 streams in flight need several connections, or wait)
MEMBER_STREAMS=${MEMBER_STREAMS:-1000}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_defaults
command -v h2load >/dev/null || die "h2load not found: apt-get install nghttp2-client"

bench_start
read -r NGINX_PORT NGINX_H2C_PORT HAPROXY_PORT HAPROXY_H1_PORT FURIWAKE_PORT FURIWAKE_H1_PORT FLOOR_PORT < <(free_ports 7)

# the backend, with a second listener taking h2c (as many streams per connection as the balancers send)
mkdir -p "$TMP/nginx/www" "$TMP/nginx/logs"
nginx_conf "127.0.0.1:$NGINX_PORT" | sed -e "s|^    listen 127.0.0.1:$NGINX_PORT backlog=4096;|&\n    listen 127.0.0.1:$NGINX_H2C_PORT http2;|" \
  -e "s|^http {|http {\n  http2_max_concurrent_streams $MEMBER_STREAMS;|" >"$TMP/nginx/nginx.conf"
grep -q "$NGINX_H2C_PORT http2" "$TMP/nginx/nginx.conf" || die "nginx.conf: no h2c listener"
taskset -c "$BACKEND_CPU" nginx -e "$TMP/nginx/logs/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/logs/stdout.log" 2>&1 &
started nginx $!
wait_listening nginx "$NGINX_PORT" $! "$TMP/nginx/logs/error.log"

{ haproxy_http_defaults; cat; } >"$TMP/haproxy.in" <<EOC
frontend h2c
  bind 127.0.0.1:$HAPROXY_PORT proto h2
$(haproxy_forwarded)
  default_backend p
frontend h1
  bind 127.0.0.1:$HAPROXY_H1_PORT
$(haproxy_forwarded)
  default_backend p
backend p
  http-reuse always
  server m1 127.0.0.1:$NGINX_H2C_PORT proto h2
EOC
run_haproxy <"$TMP/haproxy.in"

furiwake_dir
cat >"$TMP/furiwake.yaml" <<EOC
global: { log-level: warn, workers: 1 }
services:
  h2c: { listen: 127.0.0.1:$FURIWAKE_PORT, mode: http, pool: p, access-log: false, http2: { h2c: true, max-concurrent-streams: 128 } }
  h1: { listen: 127.0.0.1:$FURIWAKE_H1_PORT, mode: http, pool: p, access-log: false }
pools:
  p: { algorithm: round-robin, member-protocol: h2c, members: [ { address: 127.0.0.1:$NGINX_H2C_PORT } ] }
EOC
run_furiwake furiwake "$TMP/furiwake.yaml" "$BALANCER_CPU" "$FURIWAKE_PORT" "$FURIWAKE_H1_PORT"

taskset -c "$BALANCER_CPU" "$NODE" "$ROOT/bench/h2-node-floor.ts" proxy "$FLOOR_PORT" "$NGINX_H2C_PORT" >"$TMP/floor.log" 2>&1 &
started node-proxy $!
BALANCER_PID[node-proxy]=$!
wait_listening node-proxy "$FLOOR_PORT" $! "$TMP/floor.log"

# measure NAME PID COMMAND...: a warm-up run, then the measured one; prints the row
measure() {
  local name=$1 pid=$2 c0 c1 t0 t1 out n failed
  shift 2
  DURATION=$WARMUP "$@" >/dev/null 2>&1 || true
  c0=$(cpu_ticks "$pid"); t0=$(now_ns)
  out=$("$@" 2>&1) || true
  t1=$(now_ns); c1=$(cpu_ticks "$pid")
  printf '%s\n' "$out" >"$TMP/out-$name.txt"
  n=$(awk '/^requests:/ { print $4 } / requests in / { print $1 }' <<<"$out" | head -1)
  failed=$(awk '/^requests:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "failed,") print $i }' <<<"$out")
  awk -v name="$name" -v n="${n:-0}" -v c=$((c1 - c0)) -v ns=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v f="${failed:-0}" 'BEGIN {
    printf "%-22s %8d req %8.0f req/s cpu %4.0f%% %7.1f us/req%s\n", name, n, n / (ns / 1e9), 100 * c / hz / (ns / 1e9), (n > 0 ? c * 1e6 / hz / n : 0), (f > 0 ? "  (" f " failed)" : "")
  }'
}
h2l() { taskset -c "$CLIENT_CPU" h2load -c10 -m"$1" -D"$DURATION" "http://127.0.0.1:$2/"; }
wrk50() { taskset -c "$CLIENT_CPU" wrk -t1 -c50 -d"${DURATION}s" "http://127.0.0.1:$1/"; }

{
  printf 'furiwake h2 members bench  %s; furiwake %s; %s\n' "$(date -u '+%Y-%m-%d %H:%M:%SZ')" "$FURIWAKE_AT" "$(haproxy -v 2>/dev/null | head -1 | awk '{ print "haproxy " $3 }')"
  for ((round = 1; round <= ROUNDS; round++)); do
    for t in $TARGETS; do
      case $t in
        ha-h2c) for m in $STREAMS; do measure "$t-m$m" "${BALANCER_PID[haproxy]}" h2l "$m" "$HAPROXY_PORT"; done ;;
        fw-h2c) for m in $STREAMS; do measure "$t-m$m" "${BALANCER_PID[furiwake]}" h2l "$m" "$FURIWAKE_PORT"; done ;;
        node-proxy) for m in $STREAMS; do measure "$t-m$m" "${BALANCER_PID[node-proxy]}" h2l "$m" "$FLOOR_PORT"; done ;;
        node-client) for m in $STREAMS; do taskset -c "$BALANCER_CPU" "$NODE" "$ROOT/bench/h2-node-floor.ts" client "$NGINX_H2C_PORT" "$m" "$DURATION"; done ;;
        ha-h1c) measure "$t-c50" "${BALANCER_PID[haproxy]}" wrk50 "$HAPROXY_H1_PORT" ;;
        fw-h1c) measure "$t-c50" "${BALANCER_PID[furiwake]}" wrk50 "$FURIWAKE_H1_PORT" ;;
        *) die "unknown target $t" ;;
      esac
    done
  done
} | tee "$RESULTS_DIR/h2-members-latest.txt"
