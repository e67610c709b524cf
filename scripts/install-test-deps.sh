#!/usr/bin/env bash
# Installs the Debian packages the tests use (real peers and tools), only those missing.
# Run by `npm test` (pretest) so a fresh machine needs nothing installed by hand.
set -euo pipefail

packages=(
  iproute2       # ip netns and veth, for tests that build their own networks
  iputils-ping   # ping, to compare with the icmp monitor
  nginx          # a real HTTP member
  freeradius     # a real RADIUS server for the radius monitor
  sip-tester     # SIPp as a SIP server (UAS) for the sip monitor
  dnsmasq        # a real DNS server for the dns monitor
  nftables       # nft: the kernel fast path (nat and dsr modes)
  conntrack      # conntrack: the kernel's connection table, read and flushed
  tcpdump        # captures proving what crossed the wire in network namespaces
  python3        # raw-socket packets forged by a kernel test (test/kernel/peers/forge.py)
  chromium       # the dashboard's end-to-end tests (driven by playwright-core)
  freeradius-utils # radclient: a real RADIUS client for failover tests and the failure benchmark
  keepalived     # VRRP for active/standby pairs (ha): furiwake runs it, tests elect with it
  conntrackd     # kernel connection sync between the nodes of a pair (nat and dsr services)
  nghttp2-client # h2load: HTTP/2 load for tests and benchmarks
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages for the tests: ${missing[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
