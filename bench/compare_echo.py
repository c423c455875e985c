#!/usr/bin/env python3
"""Relay throughput and decision latency of stream-detour against its baselines, in one run.

Starts every server (bench/servers.py, each on 127.0.0.1):
  detour-kwik  stream-detour on its defaults: Kwik edge, every session continued, no inspector
  kwik-echo    the bare Kwik echo (io.streamdetour.bench.KwikEchoServer): the same Kwik listener
               and quic.* settings, nothing of the server above the stream
  detour-netty stream-detour on the Netty edge (quic.edge netty, ALPN g3-detour)
  netty-echo   the bare Netty echo (io.streamdetour.bench.NettyEchoServer): the same Netty
               listener and quic.* settings, nothing of the server above the stream
  rust-echo    the Rust reference echo server (quinn + rustls)
drives each with the same quinn client (g3proxy on the wire: PPv2 headers, every echoed byte
checked; no ALPN, except --alpn g3-detour for the Netty servers), warms them up with one pass, then runs every scenario on every server,
alternating the servers within each round (the order rotates from round to round), N rounds.
Prints medians, the ratios between servers (median of the per-round ratios), server CPU per
MiB, and decision latency; --json writes every run.

It builds nothing: it needs target/stream-detour.jar and the quinn tools (G3_DETOUR_CLIENT,
DETOUR_ECHO_SERVER, else target/g3-detour-client/release/).

usage: bench/compare_echo.py [--rounds 5] [--servers a,b,...] [--scenarios id,...] [--json FILE]
                             [--variant 'NAME=BASE -XX:OPT VAR=VALUE ...'] [--ratio A/B] [--jfr DIR]
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile

import servers as S

# (numerator, denominator): printed when both servers are in the run.
RATIOS = [("detour-kwik", "kwik-echo"), ("detour-kwik", "rust-echo"), ("kwik-echo", "rust-echo"),
          ("detour-netty", "netty-echo"), ("detour-netty", "rust-echo"), ("netty-echo", "rust-echo")]

MIB = 1024 * 1024
# MiB each way per run, by connection count: a few seconds for the slowest server here.
BUDGET_MIB = {1: 64, 8: 128}


def scenarios(scale):
    out = []
    for conns in (1, 8):
        for size in (1, 4, 16, 64):
            sessions = max(conns, int(BUDGET_MIB[conns] * scale) // size)
            concurrency = min(sessions, 8 if conns == 1 else 32)
            out.append((f"{conns}c-{size}M", f"{conns} conn{'s' if conns > 1 else ''}, {sessions} x {size} MiB, concurrency {concurrency}",
                        ["--connections", str(conns), "--sessions", str(sessions), "--concurrency", str(concurrency),
                         "--bytes", f"{size}M"]))
    out.append(("decision", "decision only: 1 conn, 200 sessions, 0 bytes, one at a time",
                ["--connections", "1", "--sessions", "200", "--concurrency", "1", "--bytes", "0"]))
    return out


def run_client(client, server, args, threads=False):
    """One client run against one server: the client's figures and the server's CPU over it."""
    user0, sys0 = server.cpu_times()
    sampler = S.ThreadCpu(server.pid) if threads else None
    try:
        r = subprocess.run(server.client_command(client, args), capture_output=True, text=True, timeout=1800)
    finally:
        by_thread = sampler.stop() if sampler else None
    user1, sys1 = server.cpu_times()
    cpu = user1 - user0 + sys1 - sys0
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    kv = dict(re.findall(r"(\S+)=(\S+)", line))
    if kv.get("result") != "pass":
        return {"failed": line or f"exit {r.returncode}", "stderr": r.stderr[-2000:]}
    mib = int(kv["bytes_verified"]) / MIB
    result = {"mib_s": float(kv["throughput_mib_s"]), "wall_s": float(kv["wall_s"]), "mib": mib,
              "p50_us": int(kv["decision_p50_us"]), "p99_us": int(kv["decision_p99_us"]),
              "cpu_s": cpu, "cpu_sys_s": sys1 - sys0, "cpu_ms_per_mib": cpu * 1000 / mib if mib else None}
    if by_thread is not None:
        by_thread["unattributed (threads ended between reads)"] = max(0.0, cpu - sum(by_thread.values()))
        result["cpu_s_by_thread"] = by_thread
    return result




def summarize(names, scenario_list, results):
    """Medians, spreads and per-round ratios of every scenario."""
    summary = {}
    for sid, _, _ in scenario_list:
        runs = results[sid]
        ok = {n: [r for r in runs[n] if "failed" not in r] for n in names}
        entry = {"servers": {}, "ratios": {}, "cpu_ms_per_mib_by_thread": {}}
        for n in names:
            with_threads = [r for r in ok[n] if "cpu_s_by_thread" in r and r["mib"]]
            kinds = sorted({k for r in with_threads for k in r["cpu_s_by_thread"]})
            if with_threads:
                entry["cpu_ms_per_mib_by_thread"][n] = {
                    k: S.median(r["cpu_s_by_thread"].get(k, 0.0) * 1000 / r["mib"] for r in with_threads) for k in kinds}
            entry["servers"][n] = {
                "mib_s": S.median(r["mib_s"] for r in ok[n]), "mib_s_spread_pct": S.spread([r["mib_s"] for r in ok[n]]),
                "cpu_ms_per_mib": S.median(r["cpu_ms_per_mib"] for r in ok[n]),
                "cpu_sys_pct": S.median(100 * r["cpu_sys_s"] / r["cpu_s"] for r in ok[n] if r["cpu_s"]),
                "p50_us": S.median(r["p50_us"] for r in ok[n]), "p99_us": S.median(r["p99_us"] for r in ok[n]),
                "runs": len(ok[n]), "failed": len(runs[n]) - len(ok[n])}
        for a, b in ratio_pairs(names):
            pairs = [(x, y) for x, y in zip(runs[a], runs[b]) if "failed" not in x and "failed" not in y and y["mib_s"] > 0]
            entry["ratios"][f"{a}/{b}"] = S.median(x["mib_s"] / y["mib_s"] for x, y in pairs)
        summary[sid] = entry
    return summary


def ratio_pairs(names):
    return [(a, b) for a, b in RATIOS if a in names and b in names]


def print_tables(names, labels, scenario_list, summary, rounds):
    pairs = ratio_pairs(names)
    print(f"\nmedians of {rounds} rounds, servers alternating; MiB/s = verified bytes both ways / wall time;"
          " ±: half the range over the median; ratios: median of per-round ratios")
    print("servers: " + "; ".join(f"{n} = {labels[n]}" for n in names))
    head = ["scenario"] + [f"{n} MiB/s" for n in names] + [f"{a} / {b}" for a, b in pairs] + \
           ["CPU ms/MiB " + " / ".join(names)]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for sid, label, _ in scenario_list:
        if sid == "decision":
            continue
        e = summary[sid]
        cells = [label]
        for n in names:
            s = e["servers"][n]
            cells.append(S.fmt(s["mib_s"], 1) + (f" ±{s['mib_s_spread_pct']:.0f}%" if s["mib_s_spread_pct"] is not None else "")
                         + (f" ({s['failed']} failed)" if s["failed"] else ""))
        cells += [S.fmt(e["ratios"][f"{a}/{b}"], 2) for a, b in pairs]
        cells.append(" / ".join(S.fmt(e["servers"][n]["cpu_ms_per_mib"], 1) + (f" ({e['servers'][n]['cpu_sys_pct']:.0f}% sys)"
                                if e["servers"][n]["cpu_sys_pct"] is not None else "") for n in names))
        print("| " + " | ".join(cells) + " |")
    threads = [(sid, label, n, summary[sid]["cpu_ms_per_mib_by_thread"][n]) for sid, label, _ in scenario_list
               for n in names if summary[sid]["cpu_ms_per_mib_by_thread"].get(n)]
    if threads:
        print("\nserver CPU ms per MiB by thread kind (median of the rounds; /proc/PID/task)")
        for sid, label, n, kinds in threads:
            print(f"{label}, {n}: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])
                                                   if v >= 0.05))
    print("\ndecision latency, median of the rounds' p50 / p99, µs (from the north header written to the reply read)")
    head = ["scenario"] + names
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for sid, label, _ in scenario_list:
        e = summary[sid]
        print("| " + " | ".join([label] + [f"{S.fmt(e['servers'][n]['p50_us'], 0)} / {S.fmt(e['servers'][n]['p99_us'], 0)}"
                                           for n in names]) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="passes over every scenario before measuring (default 1)")
    ap.add_argument("--servers", default=",".join(S.SERVERS), help=f"comma-separated, of {', '.join(S.SERVERS)}")
    ap.add_argument("--scenarios", help="comma-separated ids (default all): " + ", ".join(s[0] for s in scenarios(1)))
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the sessions per run (default 1)")
    ap.add_argument("--variant", action="append", default=[], metavar="'NAME=BASE [-JVMOPT ...] [VAR=VALUE ...]'",
                    help="one more server: BASE with more JVM options and environment (A/B of a setting)")
    ap.add_argument("--ratio", action="append", default=[], metavar="A/B", help="one more ratio to print")
    ap.add_argument("--jfr", metavar="DIR", help="record a JFR profile (settings=profile) of every Java server, after the warm-up")
    ap.add_argument("--threads", action="store_true", help="split each server's CPU by thread kind (/proc/PID/task)")
    ap.add_argument("--json", metavar="FILE", help="write every run and the summary as JSON")
    ap.add_argument("--client", default=S.client_path())
    ap.add_argument("--echo", default=S.echo_path())
    ap.add_argument("--jar", default=S.JAR)
    ap.add_argument("--keep", action="store_true", help="keep the servers' working directory (logs)")
    opts = ap.parse_args()

    catalogue = dict(S.SERVERS)
    names = list(dict.fromkeys([n for n in opts.servers.split(",") if n] + S.add_variants(catalogue, opts.variant)))
    unknown = [n for n in names if n not in catalogue]
    if unknown:
        raise SystemExit(f"unknown servers {unknown}; known: {', '.join(catalogue)}")
    for r in opts.ratio:
        a, _, b = r.partition("/")
        RATIOS.append((a, b))
    scenario_list = scenarios(opts.scale)
    if opts.scenarios:
        wanted = opts.scenarios.split(",")
        scenario_list = [s for s in scenario_list if s[0] in wanted]
        if len(scenario_list) != len(wanted):
            raise SystemExit(f"--scenarios: unknown id among {wanted}")
    servers = [(n, catalogue[n]) for n in names]
    needed = [opts.client, opts.jar] + ([opts.echo] if any(not s.java for _, s in servers) else [])
    S.check_exists(needed)

    S.stop_on_signals()
    workdir = tempfile.mkdtemp(prefix="stream-detour-bench-")
    ctx = {"jar": opts.jar, "echo": opts.echo, "workdir": workdir}
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    load_before = S.loadavg()
    running = S.start_all(servers, ctx, opts.client)
    failed_runs = 0
    try:
        print(f"servers up in {workdir}: " + ", ".join(f"{r.name} udp {r.port} pid {r.pid}" for r in running), file=sys.stderr)
        # Warm-up: the JIT needs a few runs before figures mean anything.
        for i in range(opts.warmup):
            for sid, _, args in scenario_list:
                for r in running:
                    run_client(opts.client, r, args)
            print(f"warm-up {i + 1}/{opts.warmup} done", file=sys.stderr)
        if opts.jfr:
            os.makedirs(opts.jfr, exist_ok=True)
            for r in running:
                if r.server.java:
                    r.jcmd("JFR.start", "name=bench", "settings=profile",
                           f"filename={os.path.abspath(os.path.join(opts.jfr, r.name + '.jfr'))}")
        results = {sid: {n: [] for n in names} for sid, _, _ in scenario_list}
        for rnd in range(opts.rounds):
            for sid, _, args in scenario_list:
                # The order rotates per round, so no server always runs first (or right after a JIT burst).
                k = rnd % len(running)
                for r in running[k:] + running[:k]:
                    res = run_client(opts.client, r, args, opts.threads)
                    results[sid][r.name].append(res)
                    if "failed" in res:
                        failed_runs += 1
                        print(f"round {rnd + 1} {sid} {r.name}: FAILED: {res['failed']}\n{res['stderr']}", file=sys.stderr)
            print(f"round {rnd + 1}/{opts.rounds} done (load average {S.loadavg()[0]:.2f})", file=sys.stderr)
        if opts.jfr:
            for r in running:
                if r.server.java:
                    r.jcmd("JFR.stop", "name=bench")
            print(f"JFR recordings in {opts.jfr}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"servers' logs kept in {workdir}", file=sys.stderr)
        raise
    finally:
        S.stop(*running)
    load_after = S.loadavg()
    summary = summarize(names, scenario_list, results)
    labels = {n: catalogue[n].label for n in names}
    print_tables(names, labels, scenario_list, summary, opts.rounds)
    print(f"\nload average (1 min) before / after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} CPUs;"
          f" {failed_runs} failed runs")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"started": started, "rounds": opts.rounds, "warmup": opts.warmup, "cpus": os.cpu_count(),
                       "kernel": platform.release(), "loadavg_before": load_before, "loadavg_after": load_after,
                       "servers": {r.name: {"label": labels[r.name], "argv": r.argv, "env": r.server.env,
                                            "client_args": r.server.client_args} for r in running},
                       "scenarios": [{"id": sid, "label": label, "client_args": args, "summary": summary[sid],
                                      "runs": results[sid]} for sid, label, args in scenario_list]},
                      f, indent=1)
        print(f"JSON written to {opts.json}", file=sys.stderr)
    S.clean_up(workdir, opts.keep, failed_runs)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; every server it started is stopped")
