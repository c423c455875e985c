#!/usr/bin/env python3
"""Throughput and decision latency of stream-detour against the Rust reference echo server.

Both servers run on 127.0.0.1 with the same quinn client (g3proxy on the wire, no ALPN), one
after the other in alternating rounds, so machine drift hits both alike. Prints each scenario's
median throughput and decision latency per server and the ratio stream-detour / Rust.

usage: bench/compare_echo.py [--rounds 5] [--client PATH] [--echo PATH] [--jar PATH]
"""
import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "target", "g3-detour-client", "release")

SCENARIOS = [
    ("4 conns, 100 x 1 MiB, concurrency 32", ["--connections", "4", "--sessions", "100", "--concurrency", "32", "--bytes", "1M"]),
    ("1 conn, 8 x 16 MiB", ["--connections", "1", "--sessions", "8", "--concurrency", "8", "--bytes", "16M"]),
    ("4 conns, 64 x 4 MiB, concurrency 16", ["--connections", "4", "--sessions", "64", "--concurrency", "16", "--bytes", "4M"]),
    ("decision: 200 sessions, 0 bytes, concurrency 1", ["--connections", "1", "--sessions", "200", "--concurrency", "1", "--bytes", "0"]),
]


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_java():
    return subprocess.check_output([os.path.join(ROOT, "bin", "find-java")], text=True).strip() + "/bin/java"


def start_detour(jar, port, workdir):
    env = dict(os.environ, STREAM_DETOUR_QUIC__PORT=str(port), STREAM_DETOUR_TLS__GENERATED_DIR=workdir)
    proc = subprocess.Popen([find_java(), "-jar", jar], cwd=workdir, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "server.err"), "w"))
    return proc


def start_echo(echo, port):
    return subprocess.Popen([echo, "--listen", f"127.0.0.1:{port}", "--exit-after", "3600"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(*procs):
    """SIGTERM (the server's graceful stop), then a kill for any that does not exit in time."""
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()


def wait_ready(client, port, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        r = subprocess.run([client, "--server", f"127.0.0.1:{port}", "--sessions", "1", "--bytes", "0",
                            "--handshake-timeout", "2"], capture_output=True, text=True)
        if r.returncode == 0:
            return
        time.sleep(0.5)
    raise SystemExit(f"server on udp {port} did not answer within {deadline} s")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_client(client, port, args, pid):
    before = cpu_seconds(pid)
    r = subprocess.run([client, "--server", f"127.0.0.1:{port}"] + args, capture_output=True, text=True, timeout=600)
    cpu = cpu_seconds(pid) - before
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    kv = dict(re.findall(r"(\S+)=(\S+)", line))
    if kv.get("result") != "pass":
        raise SystemExit(f"client run failed on udp {port}: {line}\n{r.stderr[-2000:]}")
    mib = int(kv["bytes_verified"]) / (1024 * 1024)
    return {"mib_s": float(kv["throughput_mib_s"]), "p50": int(kv["decision_p50_us"]),
            "p99": int(kv["decision_p99_us"]), "cpu_ms_per_mib": (cpu * 1000 / mib) if mib else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--client", default=os.path.join(TOOLS, "g3-detour-client"))
    ap.add_argument("--echo", default=os.path.join(TOOLS, "detour-echo-server"))
    ap.add_argument("--jar", default=os.path.join(ROOT, "target", "stream-detour.jar"))
    opts = ap.parse_args()
    for path in (opts.client, opts.echo, opts.jar):
        if not os.path.exists(path):
            raise SystemExit(f"missing {path}: build with .ci/run (quinn tools) and mvn package (jar)")

    workdir = tempfile.mkdtemp(prefix="stream-detour-bench-")
    detour_port, echo_port = free_udp_port(), free_udp_port()
    detour = start_detour(opts.jar, detour_port, workdir)
    echo = start_echo(opts.echo, echo_port)
    try:
        wait_ready(opts.client, detour_port)
        wait_ready(opts.client, echo_port)
        # Warm-up: the JIT needs a few rounds before figures mean anything.
        for _, args in SCENARIOS:
            run_client(opts.client, detour_port, args, detour.pid)
        results = {name: {"detour": [], "rust": []} for name, _ in SCENARIOS}
        for i in range(opts.rounds):
            for name, args in SCENARIOS:
                results[name]["detour"].append(run_client(opts.client, detour_port, args, detour.pid))
                results[name]["rust"].append(run_client(opts.client, echo_port, args, echo.pid))
            print(f"round {i + 1}/{opts.rounds} done", file=sys.stderr)
        print(f"medians of {opts.rounds} rounds, alternating; MiB/s combined both ways; decision in us")
        print("| scenario | stream-detour MiB/s | Rust echo MiB/s | ratio | stream-detour decision p50/p99 | Rust decision p50/p99 | CPU ms/MiB detour / Rust |")
        print("|---|---|---|---|---|---|---|")
        for name, _ in SCENARIOS:
            d, r = results[name]["detour"], results[name]["rust"]
            dm = statistics.median(x["mib_s"] for x in d)
            rm = statistics.median(x["mib_s"] for x in r)
            ratios = statistics.median(a["mib_s"] / b["mib_s"] for a, b in zip(d, r) if b["mib_s"] > 0) if rm > 0 else 0
            cpu = lambda xs: statistics.median(x["cpu_ms_per_mib"] for x in xs) if xs[0]["cpu_ms_per_mib"] else None
            dc, rc = cpu(d), cpu(r)
            print(f"| {name} | {dm:.1f} | {rm:.1f} | {ratios:.2f} | "
                  f"{statistics.median(x['p50'] for x in d):.0f} / {statistics.median(x['p99'] for x in d):.0f} | "
                  f"{statistics.median(x['p50'] for x in r):.0f} / {statistics.median(x['p99'] for x in r):.0f} | "
                  + (f"{dc:.1f} / {rc:.1f} |" if dc else "- |"))
    finally:
        stop(detour, echo)


if __name__ == "__main__":
    main()
