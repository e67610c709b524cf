# Shell helpers the benchmarks share (bench/run.sh, bench/http.sh): their settings, logging, the
# tools they need, processes they start and stop, free ports, waiting for a listener, the nginx
# backend, CPU accounting, and the arithmetic of the tables. Sourced, never run: a bench sets its
# own settings, then ROOT, sources this, calls bench_defaults, and sets NGINX_PORT before using
# what needs it.

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }


# --- settings -------------------------------------------------------------------------------
# bench_defaults: each setting the environment does not give and the bench did not set before
# calling this gets the value most benches use:
#   DURATION=10s      each measured run            WARMUP=2s      the run before it, not measured
#   ROUNDS=3          interleaved rounds (the tables show medians)
#   CONNECTIONS=50    the client's connections
#   BALANCER_CPU=0    the core of every balancer (furiwake, HAProxy, an nginx proxy)
#   CLIENT_CPU=1      wrk or h2load               BACKEND_CPU=1   the nginx backend
# and NODE and RESULTS_DIR are set under ROOT. A ROUNDS that is not a positive integer stops the bench.
bench_defaults() {
  : "${DURATION:=10s}" "${WARMUP:=2s}" "${ROUNDS:=3}" "${CONNECTIONS:=50}"
  : "${BALANCER_CPU:=0}" "${CLIENT_CPU:=1}" "${BACKEND_CPU:=1}"
  NODE="$ROOT/node_modules/.bin/node"
  RESULTS_DIR="$ROOT/bench/results"
  [[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
}

# bench_start [ADVICE]: before a bench starts anything: the packages it needs, the cores fitted
# to the machine, how idle the machine is (IDLE_AT_START, %; below 90 a warning says so, with
# ADVICE: "figures will be noisy" unless told), and TMP, a directory of its own.
bench_start() {
  install_missing
  fit_cpus
  # measured before the bench adds its own load
  IDLE_AT_START=$(idle_percent)
  ((IDLE_AT_START >= 90)) || log "warning: the machine is only ${IDLE_AT_START}% idle before the bench; ${1:-figures will be noisy}"
  TMP=$(mktemp -d /tmp/furiwake-bench.XXXXXX)
  chmod 755 "$TMP" # nginx's worker runs as nobody and must reach the 1 MiB file
}


# --- what we need, installed only when missing -------------------------------------------
install_missing() {
  local missing=() pkg
  for pkg in haproxy nginx wrk util-linux; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ((${#missing[@]} > 0)); then
    log "installing ${missing[*]}"
    [[ $(id -u) -eq 0 ]] || die "installing packages needs root: apt-get install ${missing[*]}"
    # The package lists may be stale or absent; refresh them once if the first try fails.
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
      apt-get update >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
    fi
  fi
  [[ -x $NODE ]] || die "$NODE not found: run npm install first"
}

# On a machine with fewer cores than asked for, everything shares what there is.
fit_cpus() {
  local n
  n=$(nproc)
  if ((BALANCER_CPU >= n || CLIENT_CPU >= n || BACKEND_CPU >= n)); then
    log "warning: only $n core(s); pinning everything to core 0 (figures are less meaningful)"
    BALANCER_CPU=0 CLIENT_CPU=0 BACKEND_CPU=0
  fi
}


# --- processes we start, and their cleanup ------------------------------------------------
TMP=""
PIDS=()
declare -A NAME_OF=()
# the balancers' PIDs by name (furiwake, haproxy, nginx ...), whose CPU the benches read
declare -A BALANCER_PID=()
# started NAME PID: remember a process to stop at the end
started() { PIDS+=("$2"); NAME_OF[$2]=$1; }
cleanup() {
  local status=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    # Give each a moment to exit, then insist (and say so: a balancer should stop on SIGTERM).
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -KILL "$pid" 2>/dev/null; then
      log "note: ${NAME_OF[$pid]} (pid $pid) was still running 5s after SIGTERM; killed"
    fi
    wait "$pid" 2>/dev/null || true
  done
  [[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'exit 143' TERM

# Free loopback ports, asked of the kernel all at once (held together, so they are distinct).
free_ports() {
  "$NODE" -e '
    const net = require("node:net");
    const n = Number(process.argv[1]);
    const servers = [];
    for (let i = 0; i < n; i++) servers.push(net.createServer().listen(0, "127.0.0.1"));
    Promise.all(servers.map((s) => new Promise((r) => s.once("listening", r)))).then(() => {
      console.log(servers.map((s) => s.address().port).join(" "));
      for (const s of servers) s.close();
    });
  ' "$1"
}

# Wait until something accepts on 127.0.0.1:$2, or the process $3 has died.
wait_listening() {
  local name=$1 port=$2 pid=$3 logfile=$4
  for _ in $(seq 1 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited before listening on $port; its output:"
      sed 's/^/    /' "$logfile" >&2 || true
      return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  log "$name did not listen on $port within 10s"
  return 1
}

# One HTTP/1.0 GET over bash's /dev/tcp: prints the status line (checks the path end to end).
probe_status() {
  local port=$1 path=$2 line
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET %s HTTP/1.0\r\nHost: bench\r\n\r\n' "$path" >&3
  IFS= read -r -t 5 line <&3 || line=""
  exec 3<&- 3>&-
  printf '%s' "${line%$'\r'}"
}


# --- backend: nginx -----------------------------------------------------------------------
# nginx_conf LISTEN: the backend's config (in $TMP/nginx), listening on LISTEN (an nginx `listen`
# argument): one worker, access log off, keep-alive without a request limit; `GET /` answers
# `ok\n`, `GET /1m` sends $TMP/nginx/www/1m.bin.
nginx_conf() {
  cat <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server {
    listen $1 backlog=4096;
    location = / { default_type text/plain; return 200 "ok\n"; }
    location = /1m { default_type application/octet-stream; alias $TMP/nginx/www/1m.bin; }
  }
}
EOF
}

start_nginx() {
  mkdir -p "$TMP/nginx/www" "$TMP/nginx/logs"
  head -c 1048576 /dev/zero >"$TMP/nginx/www/1m.bin"
  nginx_conf "127.0.0.1:$NGINX_PORT" >"$TMP/nginx/nginx.conf"
  # The master forks the worker, which inherits the pinning.
  taskset -c "$BACKEND_CPU" nginx -e "$TMP/nginx/logs/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/logs/stdout.log" 2>&1 &
  started nginx $!
  wait_listening nginx "$NGINX_PORT" $! "$TMP/nginx/logs/error.log"
}


# nginx_proxy NAME PORT KEEPALIVE [LISTEN_OPTIONS] [HTTP_LINES] [SERVER_LINES]: nginx `proxy_pass`
# in front of the backend, on 127.0.0.1:PORT (LISTEN_OPTIONS added to `listen`: `ssl http2`),
# keeping KEEPALIVE idle upstream connections, pinned to BALANCER_CPU; one worker and no master,
# so the PID in BALANCER_PID[nginx] is the one process that does the work.
nginx_proxy() {
  local name=$1 port=$2 keepalive=$3 listen_options=${4:-} http_lines=${5:-} server_lines=${6:-}
  local dir=$TMP/$name
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
$http_lines
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  upstream p {
    server 127.0.0.1:$NGINX_PORT;
    keepalive $keepalive;
    keepalive_requests 100000000;
  }
  server {
    listen 127.0.0.1:$port $listen_options backlog=4096;
$server_lines
    location / {
      proxy_pass http://p;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # what furiwake adds by default (forwarded: x-forwarded)
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$http_host;
    }
  }
}
EOF
  taskset -c "$BALANCER_CPU" nginx -e "$dir/logs/error.log" -p "$dir" -c "$dir/nginx.conf" >"$dir/logs/stdout.log" 2>&1 &
  started "$name" $!
  BALANCER_PID[nginx]=$!
  wait_listening "$name" "$port" $! "$dir/logs/error.log"
}


# FURIWAKE_REF=<commit>: measure that commit (exported to the temp dir) instead of the work tree.
furiwake_dir() {
  FURIWAKE_DIR=$ROOT FURIWAKE_AT="work tree at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  if [[ -n ${FURIWAKE_REF:-} ]]; then
    local commit
    commit=$(git -C "$ROOT" rev-parse --verify --short "$FURIWAKE_REF^{commit}") || die "FURIWAKE_REF: no commit $FURIWAKE_REF"
    FURIWAKE_DIR=$TMP/furiwake-src
    mkdir -p "$FURIWAKE_DIR"
    git -C "$ROOT" archive "$commit" | tar -x -C "$FURIWAKE_DIR"
    ln -s "$ROOT/node_modules" "$FURIWAKE_DIR/node_modules"
    FURIWAKE_AT="commit $commit"
  fi
}


# haproxy_globals [NBTHREAD] [MAXCONN]: the global and timeout lines every HAProxy of the benches
# starts with (one thread unless told).
haproxy_globals() {
  cat <<EOF
global
  nbthread ${1:-1}
  maxconn ${2:-4096}
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
EOF
}

# haproxy_http_defaults [NBTHREAD]: haproxy_globals plus `mode http` with keep-alive both ways and
# the forwarded headers furiwake adds by default (X-Forwarded-For, -Proto, -Host: see
# haproxy_forwarded), so both do the same work per request.
haproxy_http_defaults() {
  haproxy_globals "${1:-1}"
  cat <<EOF
  mode http
  option http-keep-alive
  option forwardfor
  timeout http-keep-alive 60s
EOF
}

# haproxy_http_conf PORT SERVER_PORT: HAProxy `mode http` on 127.0.0.1:PORT in front of one server
# on 127.0.0.1:SERVER_PORT, kept alive both ways (http-reuse always), as http.sh and http-cpu.sh race it.
haproxy_http_conf() {
  haproxy_http_defaults
  cat <<EOF
frontend bench
  bind 127.0.0.1:$1
$(haproxy_forwarded)
  default_backend p
backend p
  balance roundrobin
  http-reuse always
  server m1 127.0.0.1:$2
EOF
}

# haproxy_forwarded [PROTO]: a frontend's lines that set X-Forwarded-Proto (http unless told) and
# X-Forwarded-Host, as furiwake's default `forwarded: x-forwarded` does.
haproxy_forwarded() {
  printf '  http-request set-header X-Forwarded-Proto %s\n' "${1:-http}"
  printf '  http-request set-header X-Forwarded-Host %%[req.hdr(host)] if { req.hdr(host) -m found }\n'
}

# haproxy_tcp_conf BIND SERVER: HAProxy `mode tcp`, one thread, one frontend on BIND and one
# backend with SERVER (address:port) as its only server, defaults otherwise (no splicing).
haproxy_tcp_conf() {
  haproxy_globals 1 8192
  cat <<EOF
  mode tcp
frontend bench
  bind $1
  default_backend p
backend p
  balance roundrobin
  server m1 $2
EOF
}

# wrk_measured LABEL PID WRK-ARGS...: a warm-up run of WARMUP, then the measured one of DURATION,
# both `wrk -t1` on CLIENT_CPU. Sets WRK_OUT (wrk's output; empty when it failed, which is
# logged), WRK_CPU (PID's CPU during the measured run in % of one core; "-" without a PID) and
# WRK_CPU_S (the same CPU in seconds, user + system of every thread of PID), WRK_USER_S and
# WRK_SYS_S (its two parts), and WRK_SWITCHES: the voluntary context switches (sleeps, so
# wake-ups) during the measured run of PID's main thread and of each of WATCH_PIDS, if set, and
# WRK_OTHERS (ms): the CPU time other processes took on BALANCER_CPU meanwhile ("-" without a
# PID). A balancer pinned to its core waits whenever something else runs there, so its latency
# tail grows with it: read a p99 only where this is near 0 (a warning says when it is not).
# The output is kept in $TMP/wrk-LABEL.txt; non-2xx answers and socket errors are warned about.
wrk_measured() {
  local label=$1 pid=$2 t0 t1 c0=0 c1 u0=0 s0=0 u1 s1 w0 w1 k0=0 k1
  shift 2
  WRK_CPU=- WRK_CPU_S=- WRK_USER_S=- WRK_SYS_S=- WRK_SWITCHES=- WRK_OTHERS=-
  taskset -c "$CLIENT_CPU" wrk -t1 -d"$WARMUP" "$@" >/dev/null 2>&1 || true
  [[ -n $pid ]] && read -r u0 s0 < <(cpu_split "$pid") && c0=$((u0 + s0)) && k0=$(core_ticks "$BALANCER_CPU")
  # shellcheck disable=SC2086
  w0=$(voluntary_switches $pid ${WATCH_PIDS:-})
  t0=$(now_ns)
  if ! WRK_OUT=$(taskset -c "$CLIENT_CPU" wrk -t1 -d"$DURATION" "$@" 2>&1); then
    log "wrk failed against $label:"; printf '%s\n' "$WRK_OUT" | sed 's/^/    /' >&2
    WRK_OUT=""
    return 0
  fi
  t1=$(now_ns)
  # shellcheck disable=SC2086
  w1=$(voluntary_switches $pid ${WATCH_PIDS:-})
  WRK_SWITCHES=$(paste -d' ' <(tr ' ' '\n' <<<"$w0") <(tr ' ' '\n' <<<"$w1") | awk '{ printf "%s%d", (NR > 1 ? " " : ""), $2 - $1 }')
  if [[ -n $pid ]]; then
    read -r u1 s1 < <(cpu_split "$pid")
    k1=$(core_ticks "$BALANCER_CPU")
    c1=$((u1 + s1))
    WRK_OTHERS=$(awk -v t=$((k1 - k0 - (c1 - c0))) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (t < 0 ? 0 : t) * 1000 / hz }')
    WRK_CPU=$(cpu_percent "$c0" "$t0" "$c1" "$t1")
    WRK_CPU_S=$(ticks_to_s $((c1 - c0)))
    WRK_USER_S=$(ticks_to_s $((u1 - u0)))
    WRK_SYS_S=$(ticks_to_s $((s1 - s0)))
  fi
  printf '%s\n' "$WRK_OUT" >"$TMP/wrk-${label// /-}.txt"
  # WRK_KEEP=DIR: every measured run's whole output kept there too, named by label and time
  [[ -n ${WRK_KEEP:-} ]] && mkdir -p "$WRK_KEEP" && printf '%s\n' "$WRK_OUT" >"$WRK_KEEP/$(date -u +%H%M%S)-${label// /-}.txt"
  # more than 2% of the run: the balancer shared its core (a test suite, another bench...)
  if [[ $WRK_OTHERS != - ]] && awk -v o="$WRK_OTHERS" -v ns=$((t1 - t0)) 'BEGIN { exit !(o * 1e6 > 0.02 * ns) }'; then
    log "warning: $label: other processes took ${WRK_OTHERS} ms of the balancer's core $BALANCER_CPU during the run: its latency figures are not the balancer's alone"
  fi
  if grep -qE 'Non-2xx|Socket errors' <<<"$WRK_OUT"; then
    log "warning: $label: $(grep -E 'Non-2xx|Socket errors' <<<"$WRK_OUT" | tr -s ' ' | paste -sd ';')"
  fi
}

# run_haproxy < CONFIG: HAProxy with this config, pinned to the balancer core, in the foreground
# (-db) so the PID we hold is HAProxy itself; returns when it listens on $HAPROXY_PORT.
run_haproxy() {
  cat >"$TMP/haproxy.cfg"
  taskset -c "$BALANCER_CPU" haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
  started haproxy $!
  BALANCER_PID[haproxy]=$!
  wait_listening haproxy "$HAPROXY_PORT" $! "$TMP/haproxy.log"
}

# start_furiwake MODE [NAME] [PORT]: furiwake as the one service `bench` in MODE (tcp, http) in
# front of the nginx backend, on PORT (FURIWAKE_PORT), pinned to BALANCER_CPU; its PID goes in
# BALANCER_PID[NAME] (furiwake). A second one under another NAME runs beside it (another commit:
# FURIWAKE_REF set for that call).
start_furiwake() {
  local mode=$1 name=${2:-furiwake} port=${3:-$FURIWAKE_PORT}
  furiwake_dir
  cat >"$TMP/$name.yaml" <<EOF
global: { log-level: warn${FURIWAKE_WORKERS:+, workers: $FURIWAKE_WORKERS} }
services:
  bench: { listen: 127.0.0.1:$port, mode: $mode, pool: p }
pools:
  p:
    algorithm: round-robin
    members: [ { address: 127.0.0.1:$NGINX_PORT } ]
EOF
  run_furiwake "$name" "$TMP/$name.yaml" "$BALANCER_CPU" "$port"
}

# run_furiwake NAME CONFIG CPUS PORT...: furiwake (of FURIWAKE_DIR: call furiwake_dir first) on
# CONFIG, pinned to CPUS (a taskset list), its output in CONFIG's name with .log for .yaml; its
# PID goes in BALANCER_PID[NAME]; returns once it listens on every PORT.
run_furiwake() {
  local name=$1 config=$2 cpus=$3 port
  local logfile=${config%.yaml}.log
  shift 3
  # Node directly (not npx), so the PID we hold is the balancer itself (its CPU figures count
  # every thread of it). FURIWAKE_NODE_OPTIONS lets you add e.g. --cpu-prof --cpu-prof-dir=/tmp/prof.
  # shellcheck disable=SC2086
  (cd "$FURIWAKE_DIR" && exec taskset -c "$cpus" "$NODE" ${FURIWAKE_NODE_OPTIONS:-} bin/furiwake.js start -c "$config") >"$logfile" 2>&1 &
  started "$name" $!
  BALANCER_PID[$name]=$!
  for port in "$@"; do
    wait_listening "$name" "$port" "${BALANCER_PID[$name]}" "$logfile" || return 1
  done
}

# CPU time (user + system) of a process so far, in clock ticks.
cpu_ticks() {
  local u s
  read -r u s < <(cpu_split "$1")
  echo $((u + s))
}
# cpu_split PID -> "USER SYSTEM": the two parts of its CPU time so far, in clock ticks.
cpu_split() {
  # Fields after the ")" that closes the command name: utime and stime are the 12th and 13th.
  local stat
  stat=$(<"/proc/$1/stat") || { echo 0 0; return; }
  stat=${stat##*) }
  awk '{ print $12, $13 }' <<<"$stat"
}
# core_ticks CPU -> the time that core has been busy so far (user, nice, system, irq, softirq), in
# clock ticks. (With tick accounting a tick in an interrupt is charged to the task it interrupted
# as system time as well, so the balancer's own ticks are all in here.)
core_ticks() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
ticks_to_s() { awk -v c="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", c / hz }'; }
# voluntary_switches PID... -> each one's main thread's voluntary context switches so far: the
# times it slept waiting for work, so the times it had to be woken.
voluntary_switches() {
  local pid
  for pid in "$@"; do awk '/^voluntary_ctxt_switches:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0; done | paste -sd' '
}
now_ns() { date +%s%N; }
# cpu_percent TICKS_BEFORE NS_BEFORE TICKS_AFTER NS_AFTER -> the % of one core used in between
cpu_percent() {
  awk -v c="$(($3 - $1))" -v hz="$(getconf CLK_TCK)" -v ns="$(($4 - $2))" 'BEGIN { printf "%.0f", 100 * c / hz / (ns / 1e9) }'
}

# How idle the whole machine is over one second, in %: other work skews every figure.
idle_percent() {
  local a b
  a=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
  sleep 1
  b=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]) }'
}


# --- tables ---------------------------------------------------------------------------------
# save_table FILE: what the bench's `table` function prints, shown and kept in RESULTS_DIR/FILE.
save_table() {
  mkdir -p "$RESULTS_DIR"
  table | tee "$RESULTS_DIR/$1"
  log "saved to ${RESULTS_DIR#"$ROOT"/}/$1"
}

# wrk's Transfer/sec ("1.23GB") in MB/s; wrk's units are binary, so this is MiB/s.
to_mbps() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "B") ? 1/1048576 : (u == "KB") ? 1/1024 : (u == "MB") ? 1 : (u == "GB") ? 1024 : (u == "TB") ? 1048576 : -1
    if (f < 0) { print "n/a"; exit }
    printf "%.1f", n * f
  }'
}


# Median of the numeric arguments ("n/a" and "-" are skipped); "n/a" when there is none.
median() {
  printf '%s\n' "$@" | { grep -E '^[0-9.]+$' || true; } | sort -g | awk '{ v[NR] = $1; if ($1 ~ /\./) dec = 1 } END {
    if (NR == 0) { print "n/a"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf (dec ? "%.1f\n" : "%.0f\n"), m
  }'
}

# The figures of ROUNDS interleaved rounds are kept in associative arrays under "KEY.ROUND",
# where KEY is the parts given joined by dots ("haproxy.keepalive", or just "haproxy").
# med ARRAY PART... -> the median over the rounds
med() {
  local -n arr=$1
  shift
  local key vals=() round
  key=$(IFS=.; echo "$*")
  for ((round = 1; round <= ROUNDS; round++)); do vals+=("${arr[$key.$round]}"); done
  median "${vals[@]}"
}
# rounds ARRAY PART... -> every round's figure, "a/b/c"
rounds() {
  local -n arr=$1
  shift
  local key vals=() round
  key=$(IFS=.; echo "$*")
  for ((round = 1; round <= ROUNDS; round++)); do vals+=("${arr[$key.$round]}"); done
  printf '%s\n' "${vals[@]}" | paste -sd/
}

percent() { if [[ $1 =~ ^[0-9.]+$ ]]; then printf '%.0f%%' "$1"; else printf '%s' "$1"; fi; }

ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}
verdict() {
  awk -v r="$1" -v g="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 >= g + 0) print "met"; else print "BELOW" }'
}
