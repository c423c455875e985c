#!/usr/bin/env python3
"""What a flood of fake QUIC Initials costs stream-detour, with and without quic.max-handshake-rate.

For each server and each rate, stream-detour starts with a small heap (--heap) and the quinn
client opens one connection and relays --sessions sessions over it (no new handshake: one
connection, no reuse limit). First without a flood (the baseline), then again while one
process sends Initial-shaped 1200-byte datagrams, each naming a new connection, as fast as it
can, until the client is done. Every second it reads the server's heap in use (jcmd
GC.heap_info), its RSS and whether /health/ready answers.

Reports per server and rate: datagrams sent and dropped by the budget, peak heap and RSS,
whether the server lived (then served 16 sessions on a new connection), the open connection's
sessions ok and its throughput as a share of the baseline. A rate of 1000000 is, in effect, no budget: what the server did before it had one.

Everything listens on 127.0.0.1; the datagrams go to the server's port only.

usage: bench/handshake_flood.py [--servers detour-kwik,detour-netty] [--rates 1000000,2000]
                                [--sessions 2000] [--bytes 64K] [--heap 256m] [--max-seconds 60] [--json]
"""
import argparse
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import servers as S


def send_initials(host, port):
    """Initial-shaped QUIC v1 datagrams, a new destination connection id each, until killed."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.connect((host, port))
    header = bytes([0xC3]) + (1).to_bytes(4, "big") + bytes([8]) + os.urandom(8) + bytes([8]) + os.urandom(8) + bytes([0])
    length = 1200 - len(header) - 2
    datagram = bytearray(header + (0x4000 | length).to_bytes(2, "big") + os.urandom(length))
    base = int.from_bytes(os.urandom(4), "big") << 32
    sent = 0
    try:
        while True:
            for _ in range(1000):
                struct.pack_into(">Q", datagram, 6, base + sent)
                sent += 1
                try:
                    s.send(datagram)
                except OSError:
                    pass
    except KeyboardInterrupt:
        print(sent, flush=True)


def ready(admin_port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/health/ready", timeout=1) as r:
            return r.status == 200
    except Exception:
        return False


def dropped(admin_port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as r:
            m = re.search(r"^stream_detour_quic_handshakes_dropped_total (\S+)", r.read().decode(), re.M)
            return int(float(m.group(1))) if m else None
    except Exception:
        return None


def relay(server, client, args, flood, limit):
    """Runs the client over one connection; with flood, the sender runs from its handshake to its end.
    A client still running after limit seconds (its connection starved) is stopped: no summary.

    Returns the client's summary, the datagrams sent and the samples taken meanwhile."""
    proc = subprocess.Popen(server.client_command(client, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sender = None
    samples = []
    try:
        if flood:
            time.sleep(1)  # the client's one handshake first: the budget is not its business
            sender = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--send", str(server.port)],
                                      stdout=subprocess.PIPE, text=True)
        end = time.time() + limit
        while proc.poll() is None and time.time() < end:
            time.sleep(1)
            alive = server.proc.poll() is None
            samples.append({"heap": server.heap_used_mib() if alive else None,
                            "rss": S.status(server.pid)[1] if alive else None,
                            "ready": alive and ready(server.admin_port)})
        if proc.poll() is None:
            proc.kill()
        out, _ = proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sent = None
        if sender is not None:
            sender.send_signal(2)
            sent = int((sender.communicate(timeout=10)[0] or "0").strip() or 0)
    summary = dict(kv.split("=", 1) for kv in (out.strip().splitlines() or [""])[-1].split() if "=" in kv)
    return summary, sent, samples


def measure(name, rate, args, ctx):
    admin_port = S.free_tcp_port()
    server = S.SERVERS[name].with_variant(f"{name} rate {rate}", [
        f"-Xmx{args.heap}", f"STREAM_DETOUR_QUIC__MAX_HANDSHAKE_RATE={rate}", f"STREAM_DETOUR_ADMIN__PORT={admin_port}"])
    running = S.Running(f"{name}-{rate}", server, ctx)
    running.admin_port = admin_port
    try:
        running.wait_ready(args.client)
        relay_args = ["--connections", "1", "--reuse-limit", "100000000", "--sessions", str(args.sessions),
                      "--concurrency", "4", "--bytes", args.bytes, "--relay-timeout", str(args.max_seconds),
                      "--request-timeout", "10", "--stream-open-timeout", "10"]
        base, _, _ = relay(running, args.client, relay_args, False, args.max_seconds)
        flooded, sent, samples = relay(running, args.client, relay_args, True, args.max_seconds)
        # Alive means serving: a JVM out of memory may keep its process with its threads dead.
        after = subprocess.run(running.client_command(args.client, [
            "--sessions", "16", "--bytes", "16K", "--handshake-timeout", "5", "--request-timeout", "5"]),
            capture_output=True, text=True)
        lived = running.proc.poll() is None and after.returncode == 0
        row = {
            "server": name, "rate": rate, "sent": sent, "dropped": dropped(admin_port) if lived else None,
            "peak_heap_mib": max((s["heap"] for s in samples if s["heap"] is not None and s["heap"] == s["heap"]),
                                 default=None),
            "peak_rss_mib": max((s["rss"] for s in samples if s["rss"] is not None), default=None),
            "seconds_not_ready": sum(1 for s in samples if not s["ready"]), "seconds": len(samples),
            "lived": lived, "ok": int(flooded.get("ok", 0)), "sessions": args.sessions,
            "baseline_mib_s": float(base.get("throughput_mib_s", "nan")),
            "flood_mib_s": float(flooded.get("throughput_mib_s", "nan")),
        }
        if not lived:
            logs = "".join(open(os.path.join(running.workdir, f)).read() for f in ("stdout", "stderr"))
            row["death"] = "OutOfMemoryError" if "OutOfMemoryError" in logs else f"exit {running.proc.returncode}"
        return row
    finally:
        S.stop(running)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--send":
        send_initials("127.0.0.1", int(sys.argv[2]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", default="detour-kwik,detour-netty")
    ap.add_argument("--rates", default="1000000,2000", help="quic.max-handshake-rate values, comma-separated")
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--bytes", default="64K")
    ap.add_argument("--heap", default="256m")
    ap.add_argument("--max-seconds", type=int, default=60, help="a client run still going after this is stopped")
    ap.add_argument("--client", default=S.client_path())
    ap.add_argument("--jar", default=S.JAR)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    S.check_exists([args.client, args.jar])
    S.stop_on_signals()
    rows = []
    with tempfile.TemporaryDirectory(prefix="handshake-flood-") as workdir:
        ctx = {"jar": args.jar, "workdir": workdir}
        for name in args.servers.split(","):
            for rate in [int(r) for r in args.rates.split(",")]:
                row = measure(name, rate, args, ctx)
                rows.append(row)
                print(json.dumps(row) if args.json else
                      f"{name} rate={rate}: sent={row['sent']} dropped={row['dropped']} peak_heap={S.fmt(row['peak_heap_mib'])} MiB"
                      f" peak_rss={S.fmt(row['peak_rss_mib'])} MiB lived={row['lived']} {row.get('death', '')}"
                      f" not_ready={row['seconds_not_ready']}/{row['seconds']} s ok={row['ok']}/{row['sessions']}"
                      f" MiB/s {row['flood_mib_s']} vs {row['baseline_mib_s']} without the flood", flush=True)
    print("| server | quic.max-handshake-rate | datagrams sent | dropped | peak heap MiB | peak RSS MiB | lived | "
          "sessions ok | throughput vs no flood |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = r["flood_mib_s"] / r["baseline_mib_s"] if r["baseline_mib_s"] and r["baseline_mib_s"] == r["baseline_mib_s"] else float("nan")
        print(f"| {S.SERVERS[r['server']].label} | {r['rate']} | {r['sent']} | {r['dropped']} | {S.fmt(r['peak_heap_mib'])} | "
              f"{S.fmt(r['peak_rss_mib'])} | {'yes' if r['lived'] else 'no (' + r.get('death', '?') + ')'} | "
              f"{r['ok']}/{r['sessions']} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
