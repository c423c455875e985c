#!/usr/bin/env python3
"""Threads and memory the server holds for idle QUIC connections, as g3proxy's pool keeps them.

Starts stream-detour (and, for comparison, the Rust reference echo server) on 127.0.0.1, reads
threads and RSS with no connection, then opens N connections with the quinn client's
--hold-idle (keep-alive every 10 s, as g3proxy) and reads them again while they are held.
For stream-detour it also reads the Java heap in use after a full GC (jcmd GC.run, GC.heap_info).

usage: bench/idle_connections.py [--connections 100] [--hold 30]
"""
import argparse
import os
import re
import subprocess
import tempfile
import time

from compare_echo import ROOT, TOOLS, find_java, free_udp_port, start_detour, start_echo, stop, wait_ready


def status(pid):
    with open(f"/proc/{pid}/status") as f:
        text = f.read()
    threads = int(re.search(r"^Threads:\s+(\d+)", text, re.M).group(1))
    rss_kib = int(re.search(r"^VmRSS:\s+(\d+)", text, re.M).group(1))
    return threads, rss_kib / 1024


def java_heap_mib(pid):
    jcmd = os.path.join(os.path.dirname(find_java()), "jcmd")
    subprocess.run([jcmd, str(pid), "GC.run"], capture_output=True, timeout=60)
    out = subprocess.run([jcmd, str(pid), "GC.heap_info"], capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"used (\d+)K", out)
    return int(m.group(1)) / 1024 if m else float("nan")


def measure(name, pid, port, client, connections, hold, java):
    time.sleep(2)
    # Heap first: its full GC also settles RSS, so both readings are taken the same way.
    heap_before = java_heap_mib(pid) if java else None
    idle = status(pid)
    proc = subprocess.Popen([client, "--server", f"127.0.0.1:{port}", "--connections", str(connections),
                             "--hold-idle", str(hold)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(hold * 0.6)
    heap_held = java_heap_mib(pid) if java else None
    held = status(pid)
    out, _ = proc.communicate(timeout=hold + 60)
    line = out.strip().splitlines()[-1] if out.strip() else ""
    row = f"| {name} | {idle[0]} | {held[0]} | {idle[1]:.0f} | {held[1]:.0f} |"
    if java:
        per_conn = (heap_held - heap_before) * 1024 / connections
        row += f" {heap_before:.1f} | {heap_held:.1f} | {per_conn:.0f} |"
    else:
        row += " - | - | - |"
    return row, line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--hold", type=int, default=30)
    ap.add_argument("--jar", default=os.path.join(ROOT, "target", "stream-detour.jar"))
    opts = ap.parse_args()
    client = os.path.join(TOOLS, "g3-detour-client")
    workdir = tempfile.mkdtemp(prefix="stream-detour-idle-")
    detour_port, echo_port = free_udp_port(), free_udp_port()
    detour = start_detour(opts.jar, detour_port, workdir)
    echo = start_echo(os.path.join(TOOLS, "detour-echo-server"), echo_port)
    try:
        wait_ready(client, detour_port)
        wait_ready(client, echo_port)
        print(f"{opts.connections} idle connections held {opts.hold} s (quinn client --hold-idle, keep-alive 10 s)")
        print("| server | threads idle | threads held | RSS MiB idle | RSS MiB held | heap MiB idle | heap MiB held | heap KiB per connection |")
        print("|---|---|---|---|---|---|---|---|")
        for name, proc, port, java in (("stream-detour", detour, detour_port, True), ("Rust echo", echo, echo_port, False)):
            row, line = measure(name, proc.pid, port, client, opts.connections, opts.hold, java)
            print(row)
            if "result=pass" not in line:
                print(f"  (client: {line})")
    finally:
        stop(detour, echo)


if __name__ == "__main__":
    main()
