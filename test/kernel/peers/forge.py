#!/usr/bin/env python3
# Packets a hostile client forges (raw sockets, run as root in the client's namespace), for the
# nat passive health tests; node has no raw sockets.
#   forge.py syn-rst SRC DST PORT N   N SYNs to DST:PORT from SRC, each followed at once by a
#                                     reset of its own (before the member's SYN-ACK can come)
#   forge.py udp-icmp SRC DST PORT N  N one-way datagrams from SRC to DST:PORT, each from a port
#                                     of its own and followed by an ICMP port unreachable from
#                                     SRC about a datagram DST:PORT -> that port (as if the VIP had
#                                     sent one and the client refused it)
import random
import socket
import struct
import sys


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp(src: str, dst: str, sport: int, dport: int, seq: int, flags: int) -> bytes:
    header = struct.pack('!HHIIBBHHH', sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, socket.IPPROTO_TCP, len(header))
    return header[:16] + struct.pack('!H', checksum(pseudo + header)) + header[18:]


def main() -> None:
    mode = sys.argv[1]
    if mode == 'syn-rst':
        src, dst, port, n = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        s.bind((src, 0))
        for _ in range(n):
            sport = random.randint(20000, 60000)
            seq = random.randint(0, 2**32 - 1)
            s.sendto(tcp(src, dst, sport, port, seq, 0x02), (dst, 0))
            s.sendto(tcp(src, dst, sport, port, seq + 1, 0x04), (dst, 0))
    elif mode == 'udp-icmp':
        src, dst, vport, n = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        raw.bind((src, 0))
        for _ in range(n):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((src, 0))
            cport = u.getsockname()[1]
            u.sendto(b'oneway: log line', (dst, vport))
            udp = struct.pack('!HHHH', vport, cport, 12, 0)
            inner = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + 12, 0, 0x4000, 64, socket.IPPROTO_UDP, 0, socket.inet_aton(dst), socket.inet_aton(src))
            inner = inner[:10] + struct.pack('!H', checksum(inner)) + inner[12:]
            body = struct.pack('!BBHI', 3, 3, 0, 0) + inner + udp
            body = body[:2] + struct.pack('!H', checksum(body)) + body[4:]
            raw.sendto(body, (dst, 0))
            u.close()
    else:
        sys.exit(f'unknown mode {mode}')


main()
