"""A two-host lab for end-to-end tests: this test's own network and mount
namespace (host A) and a second namespace (host B) at the far end of a veth
pair, both gone when the test exits, even on failure.

Offloads are off and neighbours are static, so the veth carries only the
test's traffic, one packet per skb, and its own counters are an exact,
independent reference for what crossed it. Addresses are from 192.0.2.0/24
and 2001:db8::/32.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import weir_testing as wt

A4, B4 = "192.0.2.1", "192.0.2.2"
A6, B6 = "2001:db8::1", "2001:db8::2"
MAC_A, MAC_B = "02:00:00:00:0a:01", "02:00:00:00:0b:02"

# Ethernet + IPv4/IPv6 + UDP/ICMP header bytes of one packet.
UDP4, UDP6, ICMP4 = 14 + 20 + 8, 14 + 40 + 8, 14 + 20 + 8

# Sinks on host B: UDP on 9000 and 9002 (v4 and v6), a TCP sink on 9001 that
# reads everything, and an HTTP server on 8080 serving /blob of BLOB bytes.
BLOB = 1_000_000
SINKS = r"""
import http.server, socket, threading
def udp(family, addr):
    s = socket.socket(family, socket.SOCK_DGRAM); s.bind(addr)
    while True: s.recv(65535)
for family, host in ((socket.AF_INET, "192.0.2.2"), (socket.AF_INET6, "2001:db8::2")):
    for port in (9000, 9002):
        threading.Thread(target=udp, args=(family, (host, port)), daemon=True).start()
def tcp():
    srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("192.0.2.2", 9001)); srv.listen()
    while True:
        c, _ = srv.accept()
        while c.recv(65536): pass
        c.close()
threading.Thread(target=tcp, daemon=True).start()
class Blob(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", str(%d)); self.end_headers()
        self.wfile.write(b"z" * %d)
    def log_message(self, *a): pass
server = http.server.HTTPServer(("192.0.2.2", 8080), Blob)
print("ready", flush=True)
server.serve_forever()
""" % (BLOB, BLOB)


def sh(*cmd, ns=None, check=True):
    if ns:
        cmd = ("ip", "netns", "exec", ns) + cmd
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


def reexec_in_private_namespaces():
    """Re-runs this test in new network and mount namespaces (as root)."""
    if os.geteuid() == 0 and not os.environ.get("WEIR_LAB_INSIDE"):
        env = dict(os.environ, WEIR_LAB_INSIDE="1")
        os.execvpe("unshare", ["unshare", "--net", "--mount", "--propagation", "private",
                               sys.executable, "-u"] + sys.argv, env)


class Lab:
    def __init__(self):
        self.ns = "weir-lab-%d" % os.getpid()
        self.sinks = None
        self.bpffs = None

    def up(self):
        sh("ip", "link", "set", "lo", "up")
        self.bpffs = tempfile.mkdtemp(prefix="bpffs-", dir=os.environ.get("TEST_TMPDIR"))
        sh("mount", "-t", "bpf", "bpf", self.bpffs)
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", "wa", "address", MAC_A, "type", "veth", "peer", "name", "wb",
           "address", MAC_B, "netns", self.ns)
        for ns, dev, a4, a6, peer4, peer6, mac in ((None, "wa", A4, A6, B4, B6, MAC_B),
                                                   (self.ns, "wb", B4, B6, A4, A6, MAC_A)):
            sh("sysctl", "-qw", "net.ipv6.conf.%s.accept_ra=0" % dev, ns=ns, check=False)
            sh("sysctl", "-qw", "net.ipv6.conf.%s.router_solicitations=0" % dev, ns=ns, check=False)
            # No link-local address: its duplicate address detection and
            # multicast listener reports would go on for seconds after the
            # link comes up (the global addresses' reports go at once).
            sh("sysctl", "-qw", "net.ipv6.conf.%s.addr_gen_mode=1" % dev, ns=ns)
            sh("ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off", ns=ns, check=False)
            sh("ip", "addr", "add", a4 + "/24", "dev", dev, ns=ns)
            sh("ip", "addr", "add", a6 + "/64", "dev", dev, "nodad", ns=ns)
            sh("ip", "link", "set", dev, "up", ns=ns)
            sh("ip", "neigh", "replace", peer4, "lladdr", mac, "dev", dev, "nud", "permanent", ns=ns)
            sh("ip", "neigh", "replace", peer6, "lladdr", mac, "dev", dev, "nud", "permanent", ns=ns)
        sh("ip", "link", "set", "lo", "up", ns=self.ns)
        self.sinks = subprocess.Popen(["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-c", SINKS],
                                      text=True, stdout=subprocess.PIPE)
        if self.sinks.stdout.readline().strip() != "ready":
            raise RuntimeError("sinks did not start")
        self.wait_quiet()
        return self

    def wait_quiet(self, still=2.0, limit=20.0):
        """Waits until wa has sent and received nothing for `still` seconds.

        A new link sends IPv6 multicast listener reports for its addresses
        (within a second of coming up, without a link-local address); one
        that crossed while a test compares Weir's counts with the veth's
        would make them differ by one.
        """
        deadline = time.monotonic() + limit
        last, since = self.veth_counters(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.veth_counters()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= still:
                return
        raise RuntimeError("the lab's veth did not go quiet within %.0f s" % limit)

    def down(self):
        if self.sinks:
            self.sinks.kill()
            self.sinks.wait()
        sh("ip", "netns", "del", self.ns, check=False)
        if self.bpffs:
            sh("umount", self.bpffs, check=False)

    def veth_counters(self):
        """wa's own counters, over netlink (sysfs shows the host's netns)."""
        (link,) = json.loads(sh("ip", "-j", "-s", "link", "show", "wa"))
        s = link["stats64"]
        return {"rx_packets": s["rx"]["packets"], "rx_bytes": s["rx"]["bytes"],
                "tx_packets": s["tx"]["packets"], "tx_bytes": s["tx"]["bytes"]}


class Collector:
    """weir-collector on wa, flushing every 200 ms unless told otherwise."""

    def __init__(self, queryd, pin_path, metrics_port, extra=(), node="e2e",
                 flush_interval="200ms", interfaces="wa", binary="collector/weir-collector",
                 env=None):
        self.env = env
        self.args = [wt.runfile(binary), "--interfaces=" + interfaces,
                     "--queryd=" + queryd, "--flush-interval=" + flush_interval,
                     "--node=" + node, "--pin-path=" + pin_path,
                     "--metrics-address=127.0.0.1:%d" % metrics_port, *extra]
        if not any(a.startswith("--spool-dir") for a in extra):
            # A spool of its own (the default folder is the node's).
            self.args.append("--spool-dir=" + tempfile.mkdtemp(
                prefix="spool-", dir=os.environ.get("TEST_TMPDIR", "/tmp")))
        self.log = []
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.args, stderr=subprocess.PIPE, text=True, env=self.env)
        ready = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.log.append(line)
                if "observing" in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30):
            self.proc.kill()
            raise RuntimeError("collector did not start:\n" + "".join(self.log))
        return self

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def run_to_exit(self, timeout=30):
        """For a start that fails: runs it to its end; returns (exit code, stderr)."""
        done = subprocess.run(self.args, capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stderr

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def send_udp(dst, port, count, size, family=socket.AF_INET, pause=0.0):
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        for _ in range(count):
            s.sendto(b"x" * size, (dst, port))
            if pause:
                time.sleep(pause)
