#!/usr/bin/env bash
# What furiwake's http keep-alive path leaves to the garbage collector, and where its CPU goes:
# furiwake alone (`workers: 1`, one event loop, unless FURIWAKE_WORKERS says) in front of the nginx backend of bench/http.sh,
# `wrk -t1 -c50` for DURATION after WARMUP, with V8's `--trace-gc-nvp` and `--cpu-prof`.
# Prints requests/s, CPU µs per request, scavenges and full (mark-compact) collections per
# 100,000 requests, the bytes promoted per scavenge (median and max), the share of time in GC
# pauses, and the profile's top ten by self time. FURIWAKE_REF=<commit> measures that commit.
# Run by hand: `bash bench/http-gc.sh` (or `DURATION=10s bash bench/http-gc.sh`). Not part of the tests.
set -euo pipefail

WARMUP=${WARMUP:-3s}
PROFILE=${PROFILE:-1}               # 0: no --cpu-prof (it costs a little CPU itself)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_defaults

bench_start
read -r NGINX_PORT FURIWAKE_PORT < <(free_ports 2)

start_nginx || die "nginx did not start"
# The GC trace goes to the process's stdout (furiwake.log); the profile is written at exit.
FURIWAKE_WORKERS=${FURIWAKE_WORKERS:-1}   # auto: a worker thread per core, as bench:http runs it
FURIWAKE_NODE_OPTIONS="--trace-gc-nvp${FURIWAKE_NODE_OPTIONS:+ $FURIWAKE_NODE_OPTIONS}"
((PROFILE)) && FURIWAKE_NODE_OPTIONS+=" --cpu-prof --cpu-prof-dir=$TMP/prof"
start_furiwake http || die "furiwake did not start"
pid=${BALANCER_PID[furiwake]}

# The warm-up's collections are left out: count the trace's lines from here on.
taskset -c "$CLIENT_CPU" wrk -t1 -d"$WARMUP" -c"$CONNECTIONS" "http://127.0.0.1:$FURIWAKE_PORT/" >/dev/null 2>&1 || true
skip=$(wc -l <"$TMP/furiwake.log")
WARMUP=0s
wrk_measured furiwake "$pid" -c"$CONNECTIONS" "http://127.0.0.1:$FURIWAKE_PORT/"
[[ -n $WRK_OUT ]] || die "wrk failed"
requests=$(awk '/ requests in / { print $1 }' <<<"$WRK_OUT")
tail -n +"$((skip + 1))" "$TMP/furiwake.log" | grep ' gc=' >"$TMP/gc.txt" || true

# Stop furiwake now, so its profile is written (SIGTERM: a clean exit).
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done

printf 'furiwake http gc  %s  %s; node %s; wrk -t1 -c%s, %s\n' "$(date -u '+%Y-%m-%d %H:%M:%SZ')" \
  "$FURIWAKE_AT" "$("$NODE" --version)" "$CONNECTIONS" "$DURATION"
printf 'requests/s %s, balancer CPU %s%%, CPU µs per request %s\n' \
  "$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$WRK_OUT")" "$WRK_CPU" \
  "$(awk -v s="$WRK_CPU_S" -v n="$requests" 'BEGIN { printf "%.1f", s * 1e6 / n }')"
awk -v n="$requests" '
  { kind = ""; promoted = ""; pause = 0
    for (i = 1; i <= NF; i++) {
      split($i, kv, "=")
      if (kv[1] == "gc") kind = kv[2]
      else if (kv[1] == "promoted") promoted = kv[2]
      else if (kv[1] == "pause") pause = kv[2]
    }
    paused += pause
    if (kind == "s") { s++; p[s] = promoted } else if (kind == "ms") ms++; else other++
  }
  END {
    for (i = 1; i <= s; i++) for (j = i + 1; j <= s; j++) if (p[j] < p[i]) { t = p[i]; p[i] = p[j]; p[j] = t }
    printf "scavenges %d (%.1f per 100k requests), mark-compacts %d (%.2f per 100k), other %d\n", s, s * 1e5 / n, ms, ms * 1e5 / n, other
    if (s > 0) printf "promoted per scavenge: median %.0f KB, max %.0f KB; GC pauses %.0f ms in all (%.1f µs per request)\n", p[int((s + 1) / 2)] / 1024, p[s] / 1024, paused, paused * 1000 / n
  }' "$TMP/gc.txt"
if ((PROFILE)); then
  prof=$(ls "$TMP"/prof/*.cpuprofile 2>/dev/null | head -1)
  if [[ -n $prof ]]; then
    echo "top ten by self time (share of all samples, idle included):"
    "$NODE" "$ROOT/bench/profile-top.ts" "$prof" 10
  else
    log "no profile was written"
  fi
fi
