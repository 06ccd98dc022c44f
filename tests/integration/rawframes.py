"""Raw Ethernet frames for the antispoof tests, sent and caught with
AF_PACKET sockets from inside instance namespaces.

    rawframes.py send IFNAME FRAMES.json   # [{"kind":..., fields}, ...]
    rawframes.py recv IFNAME SECONDS MARKERS [END]  # prints the markers seen, JSON

Every frame carries a marker (an ASCII word) in its payload, so the
receiver reports which of them crossed the bridge.
"""
import json
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_udp(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17,
                      0, socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + udp


def ipv6_udp(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    s = socket.inet_pton(socket.AF_INET6, src)
    d = socket.inet_pton(socket.AF_INET6, dst)
    pseudo = s + d + struct.pack("!IxxxB", len(udp), 17)
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    return struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + s + d + udp


def icmp6(src, dst, body, hbh=False):
    """An IPv6 packet (hop limit 255, as NDP requires) carrying ICMPv6 body
    (type, code, a zero checksum, the rest), its checksum filled in; with
    hbh, behind an empty hop-by-hop options header (one PadN option)."""
    s = socket.inet_pton(socket.AF_INET6, src)
    d = socket.inet_pton(socket.AF_INET6, dst)
    pseudo = s + d + struct.pack("!IxxxB", len(body), 58)
    c = csum(pseudo + body)
    body = body[:2] + struct.pack("!H", c) + body[4:]
    nxt = 58
    if hbh:
        body = struct.pack("!BBBB4x", 58, 0, 1, 4) + body
        nxt = 0
    return struct.pack("!IHBB", 6 << 28, len(body), nxt, 255) + s + d + body


def nd_marker_option(marker):
    """An NDP option of an experimental type (253, RFC 4727) holding the
    marker: receivers ignore options they do not know (RFC 4861 4.6)."""
    data = marker + b"\0" * (-(len(marker) + 2) % 8)
    return struct.pack("!BB", 253, (len(data) + 2) // 8) + data


def router_advert(src_mac, marker):
    """A router advertisement: lifetime 1800 s, source link-layer address,
    the marker option."""
    return struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0) + \
        struct.pack("!BB6s", 1, 1, mac(src_mac)) + nd_marker_option(marker)


def redirect6(target, dest, marker):
    return struct.pack("!BBHI16s16s", 137, 0, 0, 0,
                       socket.inet_pton(socket.AF_INET6, target),
                       socket.inet_pton(socket.AF_INET6, dest)) + \
        nd_marker_option(marker)


def redirect4(src, dst, gateway, marker):
    """An ICMP redirect (type 5, code 1: for the host) quoting a packet to
    dst, the marker after the quote."""
    quoted = ipv4_udp(dst, "203.0.113.9", 40000, 40001, b"")
    body = struct.pack("!BBH4s", 5, 1, 0, socket.inet_aton(gateway)) + \
        quoted + marker
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0, 64, 1,
                      0, socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + body


def arp(sha, spa, tpa, marker):
    # An ARP request; the marker rides in the trailing padding.
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac(sha),
                       socket.inet_aton(spa), b"\0" * 6,
                       socket.inet_aton(tpa)) + marker


def frame(f):
    m = f["marker"].encode()
    dst, src = mac(f["dst"]), mac(f["src"])
    k = f["kind"]
    if k == "udp4":
        return dst + src + b"\x08\x00" + ipv4_udp(
            f["sip"], f["dip"], f.get("sport", 40000), f.get("dport", 40001), m)
    if k == "udp6":
        return dst + src + b"\x86\xdd" + ipv6_udp(
            f["sip"], f["dip"], f.get("sport", 40000), f.get("dport", 40001), m)
    if k == "arp":
        return dst + src + b"\x08\x06" + arp(f["sha"], f["sip"], f["dip"], m)
    if k == "ra":
        return dst + src + b"\x86\xdd" + icmp6(
            f["sip"], f["dip"], router_advert(f["src"], m),
            hbh=f.get("hbh", False))
    if k == "redirect6":
        return dst + src + b"\x86\xdd" + icmp6(
            f["sip"], f["dip"], redirect6(f["target"], f["dest"], m))
    if k == "redirect4":
        return dst + src + b"\x08\x00" + redirect4(
            f["sip"], f["dip"], f["gateway"], m)
    if k == "raw":
        return dst + src + struct.pack("!H", f["ethertype"]) + m
    if k == "vlan":
        # An 802.1Q tag (VLAN 5) over an experimental ethertype.
        return dst + src + struct.pack("!HHH", 0x8100, 5, 0x88B5) + m
    raise ValueError(k)


def wait_carrier(ifname, seconds=10):
    """A link just set up drops frames until its carrier is up."""
    end = time.time() + seconds
    while time.time() < end:
        with open(f"/sys/class/net/{ifname}/operstate") as fh:
            if fh.read().strip() in ("up", "unknown"):
                return
        time.sleep(0.02)


def send(ifname, frames):
    wait_carrier(ifname)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    for f in frames:
        s.send(frame(f))
        time.sleep(0.01)


def recv(ifname, seconds, markers, end_marker=None):
    """Collects markers for `seconds`, or until end_marker (sent last, on a
    frame that always passes) shows everything before it has arrived."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    s.settimeout(0.1)
    # Only now is every frame caught: tell the sender to go.
    print("READY", flush=True)
    seen = set()
    end = time.time() + seconds
    while time.time() < end:
        try:
            data, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        for m in markers:
            if m.encode() in data:
                seen.add(m)
        if end_marker and end_marker in seen:
            break
    seen.discard(end_marker)
    return sorted(seen)


if __name__ == "__main__":
    if sys.argv[1] == "send":
        with open(sys.argv[3]) as fh:
            send(sys.argv[2], json.load(fh))
    else:
        end = sys.argv[5] if len(sys.argv) > 5 else None
        print(json.dumps(recv(sys.argv[2], float(sys.argv[3]),
                              sys.argv[4].split(",") + ([end] if end else []),
                              end)))
