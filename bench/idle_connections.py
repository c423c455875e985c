#!/usr/bin/env python3
"""Threads and memory the server holds for idle QUIC connections, as g3proxy's pool keeps them.

Starts stream-detour (and, for comparison, the Rust reference echo server) on 127.0.0.1, reads
threads and RSS with no connection, then opens N connections with the quinn client's
--hold-idle (keep-alive every 10 s, as g3proxy) and reads them again while they are held.
For stream-detour it also reads the Java heap in use after a full GC (jcmd GC.run, GC.heap_info).

usage: bench/idle_connections.py [--connections 100] [--hold 30] [--servers detour-kwik,kwik-echo,rust-echo]
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
import time

import servers as S


def measure(server, client, connections, hold):
    java = server.server.java
    time.sleep(2)
    # Heap first: its full GC also settles RSS, so both readings are taken the same way.
    heap_before = server.heap_used_mib(after_gc=True)
    idle = S.status(server.pid)
    proc = subprocess.Popen(server.client_command(client, ["--connections", str(connections), "--hold-idle", str(hold)]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(hold * 0.6)
        heap_held = server.heap_used_mib(after_gc=True)
        held = S.status(server.pid)
        out, _ = proc.communicate(timeout=hold + 60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    line = out.strip().splitlines()[-1] if out.strip() else ""
    row = f"| {server.server.label} | {idle[0]} | {held[0]} | {idle[1]:.0f} | {held[1]:.0f} |"
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
    ap.add_argument("--servers", default="detour-kwik,rust-echo", help=f"comma-separated, of {', '.join(S.SERVERS)}")
    ap.add_argument("--client", default=S.client_path())
    ap.add_argument("--echo", default=S.echo_path())
    ap.add_argument("--jar", default=S.JAR)
    opts = ap.parse_args()
    names = opts.servers.split(",")
    unknown = [n for n in names if n not in S.SERVERS]
    if unknown:
        raise SystemExit(f"unknown servers {unknown}; known: {', '.join(S.SERVERS)}")
    S.check_exists([opts.client, opts.jar] + ([opts.echo] if "rust-echo" in names else []))
    S.stop_on_signals()
    workdir = tempfile.mkdtemp(prefix="stream-detour-idle-")
    running = S.start_all([(n, S.SERVERS[n]) for n in names], {"jar": opts.jar, "echo": opts.echo, "workdir": workdir},
                          opts.client)
    try:
        print(f"{opts.connections} idle connections held {opts.hold} s (quinn client --hold-idle, keep-alive 10 s)")
        print("| server | threads idle | threads held | RSS MiB idle | RSS MiB held | heap MiB idle | heap MiB held | heap KiB per connection |")
        print("|---|---|---|---|---|---|---|---|")
        for r in running:
            row, line = measure(r, opts.client, opts.connections, opts.hold)
            print(row)
            if "result=pass" not in line:
                print(f"  (client: {line})")
    finally:
        S.stop(*running)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; every server it started is stopped")
