#!/usr/bin/env bash
# What routes cost, side by side with HAProxy's `use_backend` ACLs: small keep-alive responses
# through an http service with 0 (one pool), 1, 100 and 1,000 routes — a mix of host + path-prefix
# routes and path-prefix-only routes, the request taking the last host route (HAProxy walks every
# rule before it; furiwake looks the host and path up) — and the same rules as HAProxy ACLs, in
# front of the same nginx, with the same wrk, each balancer on one thread pinned to the same core,
# in one run with interleaved rounds. Prints requests/s, requests/s per fully busy balancer core, and
# each balancer's cost against its own one-pool figure (per core: it holds when other work shares the machine).
# Run by hand: `bash bench/routes-haproxy.sh` (or `DURATION=3s ROUNDS=1 bash bench/routes-haproxy.sh`).
# Not part of the tests. Goal: furiwake with 1,000 routes costs under 10% against one pool.
set -euo pipefail

DURATION=${DURATION:-5s}
WARMUP=${WARMUP:-1s}
ROUNDS=${ROUNDS:-2}                 # interleaved rounds; the table shows medians
COUNTS=${COUNTS:-"0 1 100 1000"}    # routes per config; 0 = the service's pool alone
COST_GOAL=0.10

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_defaults

# The request each config is measured with: the last host route (i even), or / with no routes.
target_of() {
  local n=$1
  if ((n == 0)); then echo "www.example.test /"; return; fi
  local i=$(((n - 1) / 2 * 2))
  echo "h$i.example.test /p$i/x"
}

# --- the backend: nginx answering every path ----------------------------------------------
start_backend() {
  mkdir -p "$TMP/nginx/www" "$TMP/nginx/logs"
  nginx_conf "127.0.0.1:$NGINX_PORT" | sed 's|location = / {|location / {|' >"$TMP/nginx/nginx.conf"
  taskset -c "$BACKEND_CPU" nginx -e "$TMP/nginx/logs/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/logs/stdout.log" 2>&1 &
  started nginx $!
  wait_listening nginx "$NGINX_PORT" $! "$TMP/nginx/logs/error.log"
}

# --- furiwake with N routes ---------------------------------------------------------------
start_furiwake_routes() {
  local n=$1 port=$2 file=$TMP/furiwake-$1.yaml i
  {
    printf 'global: { log-level: warn, workers: 1 }\nservices:\n  bench:\n    listen: 127.0.0.1:%s\n    mode: http\n    pool: web\n    access-log: false\n' "$port"
    if ((n > 0)); then
      printf '    routes:\n'
      for ((i = 0; i < n; i++)); do
        if ((i % 2 == 0)); then
          printf '      - { name: r%d, match: { host: h%d.example.test, path-prefix: /p%d/ }, pool: api }\n' "$i" "$i" "$i"
        else
          printf '      - { name: r%d, match: { path-prefix: /q%d/ }, pool: api }\n' "$i" "$i"
        fi
      done
    fi
    printf 'pools:\n  web: { members: [ { address: 127.0.0.1:%s } ] }\n  api: { members: [ { address: 127.0.0.1:%s } ] }\n' "$NGINX_PORT" "$NGINX_PORT"
  } >"$file"
  run_furiwake "furiwake-$n" "$file" "$BALANCER_CPU" "$port"
}

# --- HAProxy with the same rules as ACLs --------------------------------------------------
start_haproxy_routes() {
  local n=$1 port=$2 file=$TMP/haproxy-$1.cfg i
  {
    haproxy_http_defaults
    cat <<EOF
frontend bench
  bind 127.0.0.1:$port
$(haproxy_forwarded)
EOF
    for ((i = 0; i < n; i++)); do
      if ((i % 2 == 0)); then
        printf '  use_backend api if { hdr(host) -i h%d.example.test } { path_beg /p%d/ }\n' "$i" "$i"
      else
        printf '  use_backend api if { path_beg /q%d/ }\n' "$i"
      fi
    done
    cat <<EOF
  default_backend web
backend web
  http-reuse always
  server m1 127.0.0.1:$NGINX_PORT
backend api
  http-reuse always
  server m1 127.0.0.1:$NGINX_PORT
EOF
  } >"$file"
  taskset -c "$BALANCER_CPU" haproxy -db -f "$file" >"$TMP/haproxy-$n.log" 2>&1 &
  started "haproxy-$n" $!
  BALANCER_PID[haproxy-$n]=$!
  wait_listening "haproxy-$n" "$port" $! "$TMP/haproxy-$n.log"
}

# --- main ---------------------------------------------------------------------------------
bench_start
furiwake_dir

read -ra COUNT_LIST <<<"$COUNTS"
declare -A PORT=()
read -ra PORTS < <(free_ports $((1 + 2 * ${#COUNT_LIST[@]})))
NGINX_PORT=${PORTS[0]}
log "nginx backend on 127.0.0.1:$NGINX_PORT (core $BACKEND_CPU)"
start_backend || die "nginx did not start"

TARGETS=()
k=1
for n in "${COUNT_LIST[@]}"; do
  PORT[furiwake-$n]=${PORTS[$k]} PORT[haproxy-$n]=${PORTS[$((k + 1))]}
  k=$((k + 2))
  log "furiwake and haproxy with $n route(s) (core $BALANCER_CPU)"
  start_furiwake_routes "$n" "${PORT[furiwake-$n]}" || die "furiwake with $n routes did not start"
  start_haproxy_routes "$n" "${PORT[haproxy-$n]}" || die "haproxy with $n routes did not start"
  TARGETS+=("furiwake-$n" "haproxy-$n")
done

# each target answers its request from the api pool (or web with no routes) with a 200
for t in "${TARGETS[@]}"; do
  read -r host path < <(target_of "${t#*-}")
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $host" "http://127.0.0.1:${PORT[$t]}$path")
  [[ $status == 200 ]] || die "$t: GET $path (Host $host) answered $status"
done

declare -A RPS=() CPU=()
for ((round = 1; round <= ROUNDS; round++)); do
  for t in "${TARGETS[@]}"; do
    read -r host path < <(target_of "${t#*-}")
    log "round $round/$ROUNDS: $t, GET $path Host $host ($DURATION after $WARMUP warm-up)"
    wrk_measured "$t" "${BALANCER_PID[$t]}" -c"$CONNECTIONS" -H "Host: $host" "http://127.0.0.1:${PORT[$t]}$path"
    RPS[$t.$round]=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$WRK_OUT")
    CPU[$t.$round]=$WRK_CPU
  done
done

# per_core TARGET -> requests/s per fully busy balancer core (median requests/s x 100 / median CPU%):
# what a request costs the balancer, which holds when other work shares the machine
per_core() {
  awk -v f="$(med RPS "$1")" -v c="$(med CPU "$1")" 'BEGIN { if (f ~ /^[0-9.]+$/ && c ~ /^[0-9.]+$/ && c > 0) printf "%.0f", f * 100 / c; else print "n/a" }'
}
# cost N BALANCER -> 1 - (requests/s per core with N routes) / (requests/s per core with one pool)
cost() {
  awk -v a="$(per_core "$2-$1")" -v b="$(per_core "$2-0")" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.3f", 1 - a / b; else print "n/a" }'
}

table() {
  printf 'furiwake routes bench  %s\n' "$(date -u '+%Y-%m-%d %H:%M:%SZ')"
  printf 'furiwake %s (workers: 1); node %s; %s; wrk -t1 -c%s\n' "$FURIWAKE_AT" "$("$NODE" --version)" \
    "$(haproxy -v 2>/dev/null | head -1 | awk '{ print "haproxy " $3 " (nbthread 1)" }')" "$CONNECTIONS"
  printf 'routes: half host + path-prefix, half path-prefix; the request takes the last host route\n'
  printf 'duration %s (warm-up %s) x %s round(s), medians; cores: balancer %s, nginx %s, wrk %s (of %s); %s%% idle at start\n\n' \
    "$DURATION" "$WARMUP" "$ROUNDS" "$BALANCER_CPU" "$BACKEND_CPU" "$CLIENT_CPU" "$(nproc)" "$IDLE_AT_START"
  local fmt='%-7s %14s %5s %14s %7s %14s %5s %14s %7s %10s\n' n
  printf "$fmt" routes "furiwake req/s" CPU "req/s per core" cost "haproxy req/s" CPU "req/s per core" cost "f/h (core)"
  for n in "${COUNT_LIST[@]}"; do
    printf "$fmt" "$n" "$(med RPS "furiwake-$n")" "$(percent "$(med CPU "furiwake-$n")")" "$(per_core "furiwake-$n")" "$(cost "$n" furiwake)" \
      "$(med RPS "haproxy-$n")" "$(percent "$(med CPU "haproxy-$n")")" "$(per_core "haproxy-$n")" "$(cost "$n" haproxy)" \
      "$(ratio "$(per_core "furiwake-$n")" "$(per_core "haproxy-$n")")"
  done
  local last=${COUNT_LIST[-1]} c
  c=$(cost "$last" furiwake)
  printf '\ncost = 1 - (requests/s per busy core with the routes) / (the same with one pool), same balancer\n'
  printf 'furiwake with %s routes: cost %s (goal < %s: %s)\n' "$last" "$c" "$COST_GOAL" \
    "$(awk -v c="$c" -v g="$COST_GOAL" 'BEGIN { if (c == "n/a") print "n/a"; else if (c + 0 < g + 0) print "met"; else print "NOT MET" }')"
  if ((ROUNDS > 1)); then
    printf '\nevery round, requests/s\n'
    for t in "${TARGETS[@]}"; do printf '%-14s %s\n' "$t" "$(rounds RPS "$t")"; done
  fi
}

save_table routes-haproxy-latest.txt
