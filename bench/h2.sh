#!/usr/bin/env bash
# HTTP/2 from clients side by side: h2load over TLS (ALPN h2) to furiwake `mode: http` with `tls`,
# to HAProxy terminating h2 (`bind ... ssl alpn h2,http/1.1`) and to nginx terminating h2
# (`listen ... ssl http2`, `proxy_pass` with upstream keep-alive), all speaking HTTP/1.1 to the
# same nginx backend, each balancer pinned to the same core (furiwake with `workers: 1`, HAProxy
# `nbthread 1`, one nginx worker), with 1 and with 100 streams per connection, in one run with
# interleaved rounds. The `-h2c` rows speak HTTP/2 in clear text to the backend too (furiwake
# `member-protocol: h2c`, HAProxy `proto h2`, the nginx backend's second listener `http2`).
# Two bare node:http2 servers on the same core give the ceiling of any balancer on Node's http2
# (bench/h2-bare-server.ts): `node-bare` answers from memory, `node-relay` passes each request to
# the backend on a kept HTTP/1.1 connection with nothing else done.
# Prints requests/s, the balancer's CPU µs per request and furiwake's ratio to HAProxy and nginx,
# and the TLS cipher and key exchange each one chose (they must be the same for a fair race).
# Run by hand: `bash bench/h2.sh` (or `DURATION=5 ROUNDS=1 bash bench/h2.sh`). Not part of the tests.
# TARGETS="furiwake haproxy" STREAMS=100: only those; FURIWAKE_REF=<commit>: that commit's furiwake;
# FURIWAKE_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR" (or --perf-basic-prof): node options for furiwake.
# PERF_DIR=DIR: `perf record -g` of each balancer during its measured run, in DIR/perf-TARGET-STREAMS.data.
# Goal (issue 16): furiwake >= 0.7 of HAProxy's requests/s per core.
set -euo pipefail

DURATION=${DURATION:-10}            # seconds of each measured h2load run
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-10}
RPS_GOAL=0.7
# Idle member connections kept (furiwake member-keep-alive.max-idle, nginx upstream keepalive;
# HAProxy keeps every one by default): at 100 streams x 10 connections, 1,000 requests are at the
# member at once over HTTP/1.1, one connection each; with fewer kept, the rest are closed and
# opened again at every turn, and the bench measures connection churn instead of HTTP/2.
MEMBER_IDLE=${MEMBER_IDLE:-1024}
# One cipher for every balancer: h2load offers only this TLS 1.3 suite (each server otherwise
# chooses by its own or the client's order: AES-128 for one, AES-256 for another), and nginx is
# told to speak TLS 1.3 (Debian's 1.22 stops at 1.2 by default). The key exchange is X25519 for all.
TLS13_CIPHER=${TLS13_CIPHER:-TLS_AES_128_GCM_SHA256}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_defaults

command -v h2load >/dev/null || die "h2load not found: apt-get install nghttp2-client"

make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bench \
    -keyout "$TMP/bench.key" -out "$TMP/bench.pem" >/dev/null 2>&1
  cat "$TMP/bench.pem" "$TMP/bench.key" >"$TMP/haproxy.pem"
}

start_haproxy_h2() {
  { haproxy_http_defaults; cat; } >"$TMP/haproxy.in" <<EOF
frontend bench
  bind 127.0.0.1:$HAPROXY_PORT ssl crt $TMP/haproxy.pem alpn h2,http/1.1
$(haproxy_forwarded https)
  default_backend p
frontend bench_h2c
  bind 127.0.0.1:$HAPROXY_H2C_PORT ssl crt $TMP/haproxy.pem alpn h2,http/1.1
$(haproxy_forwarded https)
  default_backend p2
backend p
  balance roundrobin
  http-reuse always
  server m1 127.0.0.1:$NGINX_PORT
backend p2
  balance roundrobin
  http-reuse always
  server m1 127.0.0.1:$NGINX_H2C_PORT proto h2
EOF
  run_haproxy <"$TMP/haproxy.in"
}

# nginx terminating h2 in front of the backend, keeping $MEMBER_IDLE idle member connections.
start_nginx_h2() {
  nginx_proxy nginx-h2 "$NGINX_H2_PORT" "$MEMBER_IDLE" 'ssl http2' \
    '  http2_max_requests 100000000;
  http2_max_concurrent_streams 128;' \
    "    ssl_certificate $TMP/bench.pem;
    ssl_certificate_key $TMP/bench.key;
    ssl_protocols TLSv1.2 TLSv1.3;"
}

# the nginx backend as lib.sh starts it, with a second listener that takes HTTP/2 in clear text (prior knowledge)
start_nginx_h2c() {
  mkdir -p "$TMP/nginx/www" "$TMP/nginx/logs"
  nginx_conf "127.0.0.1:$NGINX_PORT" | sed "s|^    listen 127.0.0.1:$NGINX_PORT backlog=4096;|&\n    listen 127.0.0.1:$NGINX_H2C_PORT http2;|" >"$TMP/nginx/nginx.conf"
  grep -q "$NGINX_H2C_PORT http2" "$TMP/nginx/nginx.conf" || die "nginx.conf: no h2c listener"
  taskset -c "$BACKEND_CPU" nginx -e "$TMP/nginx/logs/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/logs/stdout.log" 2>&1 &
  started nginx $!
  wait_listening nginx "$NGINX_PORT" $! "$TMP/nginx/logs/error.log"
}

start_furiwake_h2() {
  furiwake_dir
  cat >"$TMP/furiwake.yaml" <<EOF
global: { log-level: warn, workers: 1 }
services:
  bench:
    listen: 127.0.0.1:$FURIWAKE_PORT
    mode: http
    pool: p
    access-log: false
    tls: { certificates: [ { cert: $TMP/bench.pem, key: $TMP/bench.key } ] }
    http2: { max-concurrent-streams: 128 }
    member-keep-alive: { max-idle: $MEMBER_IDLE }
  bench-h2c:
    listen: 127.0.0.1:$FURIWAKE_H2C_PORT
    mode: http
    pool: p2
    access-log: false
    tls: { certificates: [ { cert: $TMP/bench.pem, key: $TMP/bench.key } ] }
    http2: { max-concurrent-streams: 128 }
pools:
  p:
    algorithm: round-robin
    members: [ { address: 127.0.0.1:$NGINX_PORT } ]
  p2:
    algorithm: round-robin
    member-protocol: h2c
    members: [ { address: 127.0.0.1:$NGINX_H2C_PORT } ]
EOF
  run_furiwake furiwake "$TMP/furiwake.yaml" "$BALANCER_CPU" "$FURIWAKE_PORT" "$FURIWAKE_H2C_PORT"
}

# start_node_bare NAME PORT [member]: bench/h2-bare-server.ts on the balancer's core
start_node_bare() {
  local name=$1 port=$2
  MEMBER_PORT=$NGINX_PORT taskset -c "$BALANCER_CPU" "$NODE" "$ROOT/bench/h2-bare-server.ts" "$port" "$TMP/bench.pem" "$TMP/bench.key" ${3:-} >"$TMP/$name.log" 2>&1 &
  started "$name" $!
  BALANCER_PID[$name]=$!
  wait_listening "$name" "$port" $! "$TMP/$name.log"
}

# run_h2load NAME PORT STREAMS -> prints "REQUESTS/S CPU%" (CPU of the balancer)
run_h2load() {
  local name=$1 port=$2 m=$3 out pid=${BALANCER_PID[$1]} c0 c1 t0 t1 rps failed
  taskset -c "$CLIENT_CPU" h2load --tls13-ciphers="$TLS13_CIPHER" -c"$CONNECTIONS" -m"$m" -D"$WARMUP" "https://127.0.0.1:$port/" >/dev/null 2>&1 || true
  c0=$(cpu_ticks "$pid")
  t0=$(now_ns)
  local perf=""
  if [[ -n ${PERF_DIR:-} ]]; then
    perf record -e cpu-clock -g -p "$pid" -o "$PERF_DIR/perf-$name-$m.data" -- sleep "$DURATION" >/dev/null 2>&1 &
    perf=$!
  fi
  out=$(taskset -c "$CLIENT_CPU" h2load --tls13-ciphers="$TLS13_CIPHER" -c"$CONNECTIONS" -m"$m" -D"$DURATION" "https://127.0.0.1:$port/" 2>&1) || true
  t1=$(now_ns)
  c1=$(cpu_ticks "$pid")
  [[ -z $perf ]] || wait "$perf" || true
  printf '%s\n' "$out" >"$TMP/h2load-$name-$m.txt"
  grep -q 'Application protocol: h2' <<<"$out" || log "warning: $name did not speak h2 (see $TMP/h2load-$name-$m.txt)"
  TLS_OF[$name]=$(awk -F': ' '/^Cipher:/ { c = $2 } /^Server Temp Key:/ { k = $2 } /^TLS Protocol:/ { p = $2 } END { print p " " c " " k }' <<<"$out")
  [[ ${TLS_OF[$name]} == "TLSv1.3 $TLS13_CIPHER X25519 253 bits" ]] || log "warning: $name chose other TLS: ${TLS_OF[$name]}"
  failed=$(awk '/^requests:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "failed,") print $i }' <<<"$out")
  [[ ${failed:-0} == 0 ]] || log "warning: $name: $failed requests failed"
  rps=$(awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "req/s,") { printf "%.0f", $i } }' <<<"$out")
  echo "${rps:-n/a} $(cpu_percent "$c0" "$t0" "$c1" "$t1")"
}

bench_start
read -r NGINX_PORT HAPROXY_PORT FURIWAKE_PORT NGINX_H2_PORT NGINX_H2C_PORT HAPROXY_H2C_PORT FURIWAKE_H2C_PORT BARE_PORT RELAY_PORT < <(free_ports 9)

make_cert
start_nginx_h2c || die "nginx did not start"
start_haproxy_h2 || die "haproxy did not start"
start_nginx_h2 || die "the nginx h2 proxy did not start"
start_furiwake_h2 || die "furiwake did not start"
start_node_bare node-bare "$BARE_PORT" || die "bench/h2-bare-server.ts did not start"
start_node_bare node-relay "$RELAY_PORT" member || die "bench/h2-bare-server.ts member did not start"

BALANCER_PID[haproxy-h2c]=${BALANCER_PID[haproxy]}
BALANCER_PID[furiwake-h2c]=${BALANCER_PID[furiwake]}
read -r -a TARGETS <<<"${TARGETS:-haproxy nginx furiwake node-bare node-relay haproxy-h2c furiwake-h2c}"
read -r -a STREAMS <<<"${STREAMS:-1 100}"
declare -A PORT=([haproxy]=$HAPROXY_PORT [nginx]=$NGINX_H2_PORT [furiwake]=$FURIWAKE_PORT [haproxy-h2c]=$HAPROXY_H2C_PORT [furiwake-h2c]=$FURIWAKE_H2C_PORT
  [node-bare]=$BARE_PORT [node-relay]=$RELAY_PORT)
declare -A RPS=() CPU=() TLS_OF=()
for ((round = 1; round <= ROUNDS; round++)); do
  for m in "${STREAMS[@]}"; do
    for t in "${TARGETS[@]}"; do
      log "round $round/$ROUNDS: $t, $CONNECTIONS connections x $m streams (${DURATION}s after ${WARMUP}s warm-up)"
      [[ -n ${PORT[$t]:-} ]] || die "TARGETS: no target $t"
      # (not in a subshell: run_h2load keeps the TLS each one chose)
      run_h2load "$t" "${PORT[$t]}" "$m" >"$TMP/figures"
      read -r "RPS[$t-$m.$round]" "CPU[$t-$m.$round]" <"$TMP/figures"
    done
  done
done

# CPU µs of the balancer per request
us_per_request() {
  awk -v f="$(med RPS "$1")" -v c="$(med CPU "$1")" 'BEGIN { if (f ~ /^[0-9.]+$/ && c ~ /^[0-9.]+$/ && f > 0) printf "%.1f", c * 1e4 / f; else print "n/a" }'
}

per_core() {
  awk -v f="$(med RPS "$1")" -v c="$(med CPU "$1")" 'BEGIN { if (f ~ /^[0-9.]+$/ && c ~ /^[0-9.]+$/ && c > 0) printf "%.0f", f * 100 / c; else print "n/a" }'
}

table() {
  printf 'furiwake h2 bench  %s\n' "$(date -u '+%Y-%m-%d %H:%M:%SZ')"
  printf 'furiwake %s; node %s; %s; %s; %s; h2load -c%s\n' "$FURIWAKE_AT" "$("$NODE" --version)" \
    "$(haproxy -v 2>/dev/null | head -1 | awk '{ print "haproxy " $3 }')" "$(nginx -v 2>&1 | sed 's|.*nginx/|nginx |')" \
    "$(h2load --version | head -1)" "$CONNECTIONS"
  printf 'TLS h2 from the client, HTTP/1.1 (-h2c: HTTP/2 in clear text) to one nginx backend (3-byte answers); %ss x %s round(s), medians\n' "$DURATION" "$ROUNDS"
  printf 'cores: balancer %s, nginx %s, h2load %s (of %s); machine %s%% idle before the start\n\n' \
    "$BALANCER_CPU" "$BACKEND_CPU" "$CLIENT_CPU" "$(nproc)" "$IDLE_AT_START"
  local fmt='%-36s %12s %14s %16s %12s\n' t m
  printf "$fmt" "" "requests/s" "balancer CPU" "requests/s/core" "CPU µs/req"
  for m in "${STREAMS[@]}"; do
    for t in "${TARGETS[@]}"; do
      printf "$fmt" "$t, $m stream(s)/connection" "$(med RPS "$t-$m")" "$(percent "$(med CPU "$t-$m")")" "$(per_core "$t-$m")" "$(us_per_request "$t-$m")"
    done
  done
  printf '\nTLS as h2load saw it (the last run of each):\n'
  for t in "${TARGETS[@]}"; do printf '  %-14s %s\n' "$t" "${TLS_OF[$t]:-?}"; done
  printf '\n'
  [[ " ${TARGETS[*]} " == *" furiwake "* && " ${TARGETS[*]} " == *" haproxy "* ]] || return 0
  for m in "${STREAMS[@]}"; do
    [[ " ${TARGETS[*]} " == *" nginx "* && " ${TARGETS[*]} " == *" furiwake-h2c "* && " ${TARGETS[*]} " == *" haproxy-h2c "* ]] || {
      printf 'furiwake / haproxy per core, %s stream(s): %s\n' "$m" "$(ratio "$(per_core "furiwake-$m")" "$(per_core "haproxy-$m")")"
      continue
    }
    local r
    r=$(ratio "$(per_core "furiwake-$m")" "$(per_core "haproxy-$m")")
    printf 'furiwake / haproxy per core, %s stream(s): %s (goal >= %s: %s); requests/s %s\n' "$m" "$r" "$RPS_GOAL" "$(verdict "$r" "$RPS_GOAL")" \
      "$(ratio "$(med RPS "furiwake-$m")" "$(med RPS "haproxy-$m")")"
    printf 'furiwake / nginx per core, %s stream(s): %s; requests/s %s\n' "$m" "$(ratio "$(per_core "furiwake-$m")" "$(per_core "nginx-$m")")" \
      "$(ratio "$(med RPS "furiwake-$m")" "$(med RPS "nginx-$m")")"
    printf 'furiwake / haproxy per core, h2c to the backend, %s stream(s): %s; requests/s %s\n' "$m" \
      "$(ratio "$(per_core "furiwake-h2c-$m")" "$(per_core "haproxy-h2c-$m")")" \
      "$(ratio "$(med RPS "furiwake-h2c-$m")" "$(med RPS "haproxy-h2c-$m")")"
  done
}

save_table h2-latest.txt
