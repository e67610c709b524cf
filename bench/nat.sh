#!/usr/bin/env bash
# The kernel fast path, side by side: requests/s through furiwake `nat` mode, straight to the
# server, through furiwake `tcp` mode and through HAProxy `mode tcp`, in one run, with the same
# nginx and the same wrk. Everything runs in network namespaces this script makes and removes:
#
#   client  (wrk) --\
#                    gw (router) == bridge == balancer (furiwake / HAProxy), server (nginx)
#   direct  (wrk) --/
#
# The server's route to the client goes through the balancer (nat needs the replies to pass
# it); its route to the "direct" client goes through gw, so the direct measurement never
# touches the balancer at all: client -> gw -> server and back. "routed" takes the balancer's
# path without furiwake: the server's second address is routed through the balancer, which
# forwards it as a plain router — what the extra hop costs, apart from the translation.
# Run by hand as root:
#   bash bench/nat.sh                     # 3 rounds x 10 s per measurement
#   DURATION=5s ROUNDS=1 bash bench/nat.sh
# Not part of the tests. Goal: nat >= 0.9 of direct.
set -euo pipefail

# DURATION, WARMUP, ROUNDS, CONNECTIONS and the cores as bench_defaults (bench/lib.sh) says:
# furiwake tcp mode and HAProxy on BALANCER_CPU (nat runs in the kernel: softirq, any core).
STEER=${STEER:-1}                   # 1: the balancer's packets are processed on its core (RPS); 0: where they are sent

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
P="fwb-$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
C=$P-c D=$P-d GW=$P-gw B=$P-b S=$P-s
VIP=10.88.2.100 SERVER=10.88.2.11 ROUTED=10.88.2.12

# log, die, started, cleanup (stops what `started` recorded, removes $TMP) come from lib.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_defaults

[[ $(id -u) -eq 0 ]] || die "namespaces and nftables need root"
for tool in nft wrk nginx haproxy taskset ip; do command -v "$tool" >/dev/null || die "$tool not found (apt-get install nftables wrk nginx haproxy util-linux iproute2)"; done
[[ -x $NODE ]] || die "$NODE not found: run npm install first"
fit_cpus

TMP=$(mktemp -d)
# The namespaces' names go first: each is freed once the processes in it are stopped.
remove_namespaces() { for ns in $C $D $GW $B $S; do ip netns delete "$ns" 2>/dev/null || true; done; }
trap 'status=$?; remove_namespaces; (exit $status); cleanup' EXIT
trap 'log interrupted; exit 130' INT
trap 'exit 143' TERM

# --- the namespaces -------------------------------------------------------------------------
inns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
for ns in $C $D $GW $B $S; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n $GW link add br0 type bridge
ip -n $GW addr add 10.88.2.254/24 dev br0
ip -n $GW link set br0 up
inns $GW sysctl -qw net.ipv4.ip_forward=1
client_link() { # NS NAME-AT-GW NET: a client namespace on a /24 of its own, routed by gw (.1)
  ip link add "v$P" netns "$1" type veth peer name "$2" netns $GW
  ip -n "$1" link set "v$P" name eth0
  ip -n "$1" addr add "$3.10/24" dev eth0
  ip -n "$1" link set eth0 up
  ip -n "$1" route add default via "$3.1"
  ip -n $GW addr add "$3.1/24" dev "$2"
  ip -n $GW link set "$2" up
}
client_link $C front 10.88.1
client_link $D direct 10.88.4
i=0
for ns in $B $S; do
  ip link add "v$P" netns "$ns" type veth peer name "p$i" netns $GW
  ip -n "$ns" link set "v$P" name eth0
  ip -n "$ns" link set eth0 up
  ip -n $GW link set "p$i" master br0 up
  i=$((i + 1))
done
ip -n $B addr add 10.88.2.1/24 dev eth0
ip -n $B addr add $VIP/32 dev eth0
ip -n $B route add default via 10.88.2.254
inns $B sysctl -qw net.ipv4.ip_forward=1
ip -n $S addr add $SERVER/24 dev eth0
ip -n $S route add default via 10.88.2.1
ip -n $S route add 10.88.4.0/24 via 10.88.2.254
ip -n $S addr add $ROUTED/32 dev eth0
ip -n $GW route add $ROUTED/32 via 10.88.2.1
# gw -> balancer -> server on one segment: no ICMP redirects, or gw would learn to skip the balancer
inns $B sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0
inns $GW sysctl -qw net.ipv4.conf.all.accept_redirects=0
# The balancer's packet work on the balancer's core, as its process is: a veth does that work on
# the sending core (where wrk and nginx run) unless receive packet steering moves it.
if ((STEER)); then printf '%x' $((1 << BALANCER_CPU)) | inns $B tee /sys/class/net/eth0/queues/rx-0/rps_cpus >/dev/null; fi
# wrk opens many connections: let the balancer's conntrack hold them
inns $B sysctl -qw net.netfilter.nf_conntrack_max=1048576 2>/dev/null || true

wait_up() { # NAME URL PID [NS]: until the URL answers from the client, or the process died
  for _ in $(seq 1 200); do
    kill -0 "$3" 2>/dev/null || die "$1 exited; see $TMP"
    inns "${4:-$C}" bash -c "exec 3<>/dev/tcp/${2%:*}/${2#*:}" 2>/dev/null && return 0
    sleep 0.05
  done
  die "$1 did not answer on $2"
}

# --- nginx on the server --------------------------------------------------------------------
mkdir -p "$TMP/nginx/logs"
nginx_conf 80 >"$TMP/nginx/nginx.conf"
# Started with `ip netns exec` itself (not a shell function, which would fork): $! is then the
# process, as ip execs it, so the cleanup stops the right one.
ip netns exec $S taskset -c "$BACKEND_CPU" nginx -e "$TMP/nginx/logs/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/logs/stdout.log" 2>&1 &
started nginx $!
wait_up nginx $SERVER:80 $!
wait_up nginx $SERVER:80 "${PIDS[-1]}" $D

# --- furiwake: nat on :80, tcp on :8080, the same member ------------------------------------
cat >"$TMP/furiwake.yaml" <<EOF
global: { log-level: warn }
services:
  nat: { listen: $VIP:80, mode: nat, pool: web }
  tcp: { listen: $VIP:8080, mode: tcp, pool: web }
pools:
  web:
    members: [ { address: $SERVER:80 } ]
EOF
ip netns exec $B taskset -c "$BALANCER_CPU" "$NODE" "$ROOT/bin/furiwake.js" start -c "$TMP/furiwake.yaml" >"$TMP/furiwake.log" 2>&1 &
started furiwake $!
wait_up furiwake $VIP:8080 $!
wait_up furiwake-nat $VIP:80 "${PIDS[-1]}"

# --- HAProxy mode tcp on :8081 --------------------------------------------------------------
haproxy_tcp_conf "$VIP:8081" "$SERVER:80" >"$TMP/haproxy.cfg"
ip netns exec $B taskset -c "$BALANCER_CPU" haproxy -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
started haproxy $!
wait_up haproxy $VIP:8081 $!

# --- measuring ------------------------------------------------------------------------------
TARGETS=(direct routed nat tcp haproxy)
declare -A URL=([direct]=http://$SERVER:80/ [routed]=http://$ROUTED:80/ [nat]=http://$VIP:80/ [tcp]=http://$VIP:8080/ [haproxy]=http://$VIP:8081/)
declare -A FROM=([direct]=$D [routed]=$C [nat]=$C [tcp]=$C [haproxy]=$C)
KINDS=(keepalive close)
declare -A LABEL=([keepalive]="keep-alive requests/s" [close]="new connections/s")
declare -A R=()

run_wrk() { # TARGET KIND -> requests/s
  local args=()
  [[ $2 == close ]] && args=(-H 'Connection: close')
  inns "${FROM[$1]}" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$WARMUP" "${args[@]}" "${URL[$1]}" >/dev/null 2>&1 || true
  local out
  out=$(inns "${FROM[$1]}" taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "${args[@]}" "${URL[$1]}" 2>&1) || { log "wrk failed on $1 $2: $out"; echo 0; return; }
  if grep -q 'Socket errors' <<<"$out"; then log "$1 $2: $(grep 'Socket errors' <<<"$out")"; fi
  awk '/^Requests\/sec/ { printf "%.0f\n", $2 }' <<<"$out"
}

for round in $(seq 1 "$ROUNDS"); do
  for kind in "${KINDS[@]}"; do
    for t in "${TARGETS[@]}"; do
      R[$t,$kind]="${R[$t,$kind]:-} $(run_wrk "$t" "$kind")"
      log "round $round $kind $t:${R[$t,$kind]}"
    done
  done
done


printf 'furiwake nat bench  %s\n' "$(date -u '+%Y-%m-%d %H:%M:%SZ')"
printf 'furiwake at %s; node %s; %s; %s; %s\n' "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" "$("$NODE" -v)" \
  "$(haproxy -v 2>/dev/null | head -1 | awk '{ print "haproxy " $3 }')" "$(nginx -v 2>&1 | sed 's/.*\///; s/^/nginx /')" "$(nft --version)"
printf 'wrk -t1 -c%s, %s (warm-up %s) x %s round(s), medians; cores: balancer %s (its process%s), nginx %s, wrk %s (of %s)\n\n' \
  "$CONNECTIONS" "$DURATION" "$WARMUP" "$ROUNDS" "$BALANCER_CPU" "$( ((STEER)) && echo ' and its packets, STEER=1' || echo '; packets where sent, STEER=0')" "$BACKEND_CPU" "$CLIENT_CPU" "$(nproc)"
fmt='%-24s %8s %8s %8s %8s %8s %11s %6s %6s %11s %12s\n'
printf "$fmt" measurement direct routed nat tcp haproxy nat/direct goal "" nat/routed tcp/haproxy
for kind in "${KINDS[@]}"; do
  # shellcheck disable=SC2086 # each is a list of figures
  d=$(median ${R[direct,$kind]}) o=$(median ${R[routed,$kind]}) n=$(median ${R[nat,$kind]}) t=$(median ${R[tcp,$kind]}) h=$(median ${R[haproxy,$kind]})
  printf "$fmt" "${LABEL[$kind]}" "$d" "$o" "$n" "$t" "$h" "$(ratio "$n" "$d")" ">=0.9" "$(verdict "$(ratio "$n" "$d")" 0.9)" "$(ratio "$n" "$o")" "$(ratio "$t" "$h")"
done
printf '\nevery round (direct | routed | nat | tcp | haproxy)\n'
for kind in "${KINDS[@]}"; do
  printf '%-24s%s |%s |%s |%s |%s\n' "${LABEL[$kind]}" "${R[direct,$kind]}" "${R[routed,$kind]}" "${R[nat,$kind]}" "${R[tcp,$kind]}" "${R[haproxy,$kind]}"
done
