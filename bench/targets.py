#!/usr/bin/env python3
"""Session setup rate and decision latency (the issue's targets), stream-detour against its baselines.

Starts every server (bench/servers.py, each on 127.0.0.1, each accepting the ALPN id the load
generator offers):
  detour-kwik  stream-detour on its defaults: Kwik edge, every session continued
  kwik-echo    the bare Kwik echo: the same Kwik listener, nothing of the server above the stream
  rust-echo    the Rust reference echo server (quinn + rustls)
and drives each with the load generator (loadgen/, Netty's QUIC codec, g3proxy's wire format),
the servers alternating within each round (the order rotates from round to round):
  setup     closed loop: --sessions sessions of --bytes each way (0: reply and pairing only),
            16 per connection (g3proxy's reuse limit), --concurrency at once on --connections
            pooled connections: setups/s and server CPU µs per session
  decision  open loop: --rate new sessions per second for --duration seconds: decision latency
            p50/p99/p99.9 (north header written to reply read, the client's HdrHistogram), after
            --client-warmup seconds of the same load in the same client run (left out of the figures),
            and for stream-detour its own decision times over the same window (/metrics)
Every server is warmed up first (closed-loop chunks of 10 000 sessions, at least --warmup-sessions, until
its CPU per session stops falling: the JIT needs them).
Prints medians of the rounds, the ratios between servers (median of the per-round ratios), the
load average before and after; --json writes every run.

It builds nothing: it needs target/stream-detour.jar, loadgen/target/stream-detour-loadgen.jar
and the quinn tools (G3_DETOUR_CLIENT for the readiness check, DETOUR_ECHO_SERVER).

usage: bench/targets.py [--rounds 5] [--servers a,b,...] [--scenarios setup,decision] [--json FILE]
                        [--variant 'NAME=BASE -XX:OPT VAR=VALUE ...'] [--ratio A/B] [--before-jar FILE]
                        [--threads] [--profile DIR]
"""
import argparse
import datetime
import glob
import json
import os
import platform
import subprocess
import sys
import re
import tempfile
import time
import zipfile
from dataclasses import replace

import servers as S

ALPN = "g3-detour"
LOADGEN = os.path.join(S.ROOT, "loadgen", "target", "stream-detour-loadgen.jar")
RATIOS = [("detour-kwik", "kwik-echo"), ("detour-kwik", "rust-echo"), ("kwik-echo", "rust-echo"),
          ("detour-netty", "netty-echo"), ("detour-netty", "rust-echo"), ("netty-echo", "rust-echo")]


def echo_with_alpn(ctx, port):
    return S.echo_server(ctx, port) + ["--alpn", ALPN]


echo_with_alpn.java = False


def catalogue():
    """The servers of servers.py, each accepting ALPN g3-detour (the load generator must offer one);
    client_args are for the quinn client of the readiness check."""
    out = {}
    for name, server in S.SERVERS.items():
        if server.java:
            out[name] = replace(server, env={"STREAM_DETOUR_QUIC__ALPN": ALPN, **server.env})
        elif server.command is S.echo_server:
            out[name] = replace(server, command=echo_with_alpn)
        else:
            out[name] = server
        if "--alpn" not in out[name].client_args:
            out[name] = replace(out[name], client_args=out[name].client_args + ["--alpn", ALPN])
    return out


def scenario_args(opts):
    return {
        "setup": ["--sessions", str(opts.sessions), "--concurrency", str(opts.concurrency),
                  "--connections", str(opts.connections), "--connections-per-socket", "16",
                  "--reuse-limit", "16", "--bytes", opts.bytes],
        "decision": ["--rate", str(opts.rate), "--warmup", str(opts.client_warmup), "--duration", str(opts.duration),
                     "--connections", str(opts.connections),
                     "--connections-per-socket", "16", "--reuse-limit", "16", "--bytes", opts.bytes],
    }


def run_loadgen(java, server, args, threads=False, admin=None):
    """One load generator run against one server: its summary (JSON), the server's CPU by thread, and
    for stream-detour its own decision times (the load generator reads its /metrics histogram)."""
    sampler = S.ThreadCpu(server.pid) if threads else None
    argv = [java, "-jar", LOADGEN, "--server", f"127.0.0.1:{server.port}", "--alpn", ALPN,
            "--server-pid", str(server.pid), "--json", "-q"] + (["--server-metrics", admin + "/metrics"] if admin else []) + args
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    finally:
        by_thread = sampler.stop() if sampler else None
    try:
        summary = json.loads(r.stdout)
    except ValueError:
        return {"run_failed": f"exit {r.returncode}: {r.stdout[-500:]}", "stderr": r.stderr[-2000:]}
    if summary.get("result") != "pass":
        return {"run_failed": f"result {summary.get('result')}", "summary": summary, "stderr": r.stderr[-2000:]}
    if by_thread is not None:
        # Kwik's per-connection threads often end between two reads of /proc: what they used is here.
        by_thread["unattributed (threads ended between reads)"] = max(0.0, summary.get("server_cpu_s", 0.0)
                                                                       - sum(by_thread.values()))
        summary["server_cpu_s_by_thread"] = by_thread
    return summary


def warm_up(java, server, setup_args, opts, chunk=10000):
    """Closed-loop chunks of sessions until the server's CPU per session settles: at least
    --warmup-sessions, then until three chunks in a row come within 10 % of the best so far (a
    plateau, not one noisy pair), at most --warmup-max. stream-detour's JIT was still compiling
    after 30 000 sessions (on the Netty edge its CPU per session fell from 1 203 to 268 µs over the
    first 60 000; on the Kwik edge, from 2 418 to 870 over 70 000)."""
    warm = setup_args[:]
    warm[warm.index("--sessions") + 1] = str(chunk)
    done, best, flat, steps = 0, None, 0, []
    while done < opts.warmup_max:
        w = run_loadgen(java, server, warm)
        done += chunk
        cost = us_per_session(w)
        steps.append("failed" if cost is None else f"{cost:.0f}")
        if cost is not None:
            flat = flat + 1 if best is not None and cost >= 0.9 * best else 0
            best = cost if best is None else min(best, cost)
        if done >= opts.warmup_sessions and flat >= 3:
            break
    print(f"warm-up {server.name}: {done} sessions, server CPU µs/session per {chunk}: {' '.join(steps)}"
          + ("" if flat >= 3 else " (not settled)"), file=sys.stderr)


def admin_url(server, wait=10):
    """stream-detour's admin API, from the address it prints once running (its port is ephemeral
    here); None for a server that prints none (the bare echo)."""
    end = time.time() + wait
    while time.time() < end:
        with open(os.path.join(server.workdir, "stdout")) as f:
            text = f.read()
        m = re.search(r"admin API\s+(http://\S+?)/?\s", text)
        if m or "listening" in text:
            return m.group(1) if m else None
        time.sleep(0.2)
    return None


def us_per_session(run):
    cpu, sessions = run.get("server_cpu_s"), run.get("sessions")
    return cpu * 1e6 / sessions if cpu is not None and sessions else None


def summarize(names, results):
    summary = {}
    for sid, runs in results.items():
        entry = {"servers": {}, "ratios": {}}
        for n in names:
            ok = [r for r in runs[n] if "run_failed" not in r]
            s = {"runs": len(ok), "failed": len(runs[n]) - len(ok),
                 "server_cpu_us_per_session": S.median(us_per_session(r) for r in ok),
                 "client_cpu_s": S.median(r.get("client_cpu_s") for r in ok)}
            if sid == "setup":
                s["setup_per_s"] = S.median(r["setup_per_s"] for r in ok)
                s["setup_per_s_spread_pct"] = S.spread([r["setup_per_s"] for r in ok])
                s["decision_p50_us"] = S.median(r["decision_p50_us"] for r in ok)
                s["decision_p99_us"] = S.median(r["decision_p99_us"] for r in ok)
            else:
                for k in ("decision_p50_us", "decision_p99_us", "decision_p999_us", "decision_max_us",
                          "setup_per_s", "backlog_max", "dropped", "server_decision_within_1ms_pct",
                          "server_decision_p99_bucket_us"):
                    s[k] = S.median(r.get(k) for r in ok)
            kinds = sorted({k for r in ok for k in r.get("server_cpu_s_by_thread", {})})
            if kinds:
                s["server_cpu_us_per_session_by_thread"] = {
                    k: S.median(r["server_cpu_s_by_thread"].get(k, 0.0) * 1e6 / r["sessions"]
                              for r in ok if "server_cpu_s_by_thread" in r) for k in kinds}
            entry["servers"][n] = s
        key = "setup_per_s" if sid == "setup" else "decision_p99_us"
        for a, b in [(a, b) for a, b in RATIOS if a in names and b in names]:
            pairs = [(x, y) for x, y in zip(runs[a], runs[b]) if "run_failed" not in x and "run_failed" not in y and y[key]]
            entry["ratios"][f"{a}/{b}"] = S.median(x[key] / y[key] for x, y in pairs)
        summary[sid] = entry
    return summary


def print_tables(names, labels, summary, opts):
    pairs = [(a, b) for a, b in RATIOS if a in names and b in names]
    print(f"\nmedians of {opts.rounds} rounds, servers alternating; ratios: median of the per-round ratios")
    print("servers: " + "; ".join(f"{n} = {labels[n]}" for n in names))
    if "setup" in summary:
        e = summary["setup"]
        print(f"\nsetup: closed loop, {opts.sessions} sessions, {opts.bytes} bytes each way, concurrency"
              f" {opts.concurrency}, {opts.connections} connections of 16 sessions")
        head = ["server", "setups/s", "server CPU µs/session", "client CPU s", "decision p50 / p99 µs"]
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        for n in names:
            s = e["servers"][n]
            failed = f" ({s['failed']} failed)" if s["failed"] else ""
            print(f"| {n} | {S.fmt(s['setup_per_s'])} ±{S.fmt(s['setup_per_s_spread_pct'])}%{failed}"
                  f" | {S.fmt(s['server_cpu_us_per_session'])}"
                  f" | {S.fmt(s['client_cpu_s'], 1)} | {S.fmt(s['decision_p50_us'])} / {S.fmt(s['decision_p99_us'])} |")
        for a, b in pairs:
            print(f"setups/s {a} / {b}: {S.fmt(e['ratios'][f'{a}/{b}'], 2)}")
    if "decision" in summary:
        e = summary["decision"]
        print(f"\ndecision: open loop, {opts.rate} new sessions/s for {opts.duration} s, {opts.bytes} bytes each way")
        head = ["server", "decision p50 / p99 / p99.9 / max µs", "setups/s", "backlog max", "dropped",
                "server CPU µs/session", "server's own decisions ≤ 1 ms, % (p99 bucket µs)"]
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        for n in names:
            s = e["servers"][n]
            failed = f" ({s['failed']} failed)" if s["failed"] else ""
            print(f"| {n}{failed} | {S.fmt(s['decision_p50_us'])} /"
                  f" {S.fmt(s['decision_p99_us'])} / {S.fmt(s['decision_p999_us'])} / {S.fmt(s['decision_max_us'])}"
                  f" | {S.fmt(s['setup_per_s'])} | {S.fmt(s['backlog_max'])} | {S.fmt(s['dropped'])}"
                  f" | {S.fmt(s['server_cpu_us_per_session'])} | {S.fmt(s['server_decision_within_1ms_pct'], 1)}"
                  f" ({S.fmt(s['server_decision_p99_bucket_us'])}) |")
        for a, b in pairs:
            print(f"decision p99 {a} / {b}: {S.fmt(e['ratios'][f'{a}/{b}'], 2)}")
    for sid, e in summary.items():
        for n in names:
            kinds = e["servers"][n].get("server_cpu_us_per_session_by_thread")
            if kinds:
                print(f"{sid}, {n}, server CPU µs/session by thread kind: "
                      + ", ".join(f"{k} {v:.0f}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]) if v >= 1))


def async_profiler(workdir):
    """libasyncProfiler.so from the Maven artifact tools.profiler:async-profiler in ~/.m2, extracted."""
    jars = sorted(glob.glob(os.path.expanduser("~/.m2/repository/tools/profiler/async-profiler/*/async-profiler-*.jar")))
    if not jars:
        raise SystemExit("--profile needs tools.profiler:async-profiler in ~/.m2: mvn dependency:get"
                         " -Dartifact=tools.profiler:async-profiler:4.2")
    with zipfile.ZipFile(jars[-1]) as z:
        z.extract("linux-x64/libasyncProfiler.so", workdir)
    return os.path.join(workdir, "linux-x64", "libasyncProfiler.so")


def profiler_command(server, lib, command):
    # jcmd parses key=value pairs itself: the agent's option string must be quoted.
    return server.jcmd("JVMTI.agent_load", lib, f'"{command}"')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--servers", default="detour-kwik,kwik-echo,rust-echo")
    ap.add_argument("--scenarios", default="setup,decision")
    ap.add_argument("--sessions", type=int, default=10000, help="setup: sessions per run (default 10000)")
    ap.add_argument("--concurrency", type=int, default=256, help="setup: sessions at once (default 256)")
    ap.add_argument("--connections", type=int, default=32, help="pool connections (default 32)")
    ap.add_argument("--bytes", default="0", help="bytes each way per session (default 0)")
    ap.add_argument("--rate", type=int, default=1000, help="decision: arrivals per second (default 1000)")
    ap.add_argument("--duration", type=float, default=10, help="decision: seconds per run (default 10)")
    ap.add_argument("--client-warmup", type=float, default=5, help="decision: seconds of the same load first, in the"
                    " same client run and left out of its figures (a fresh client JVM is slow for seconds; default 5)")
    ap.add_argument("--warmup-sessions", type=int, default=50000, help="closed-loop sessions per server first, at least"
                    " (default 50000); then more until the server's CPU per session settles")
    ap.add_argument("--warmup-max", type=int, default=150000, help="warm-up sessions per server at most (default 150000)")
    ap.add_argument("--variant", action="append", default=[], metavar="'NAME=BASE [-JVMOPT ...] [VAR=VALUE ...]'",
                    help="one more server: BASE with more JVM options and environment (A/B of a setting)")
    ap.add_argument("--before-jar", metavar="FILE", help="more servers: detour-before (and detour-netty-before"
                    " with detour-netty), stream-detour from another jar (a build before a change), in the same run")
    ap.add_argument("--ratio", action="append", default=[], metavar="A/B", help="one more ratio to print")
    ap.add_argument("--threads", action="store_true", help="split each server's CPU by thread kind (/proc/PID/task)")
    ap.add_argument("--profile", metavar="DIR", help="async-profiler (ctimer: CPU time of each thread, 1 ms) of every Java server over the"
                    " measured setup runs: DIR/NAME.collapsed, per-thread collapsed stacks")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--client", default=S.client_path(), help="quinn client, for the readiness check")
    ap.add_argument("--echo", default=S.echo_path())
    ap.add_argument("--jar", default=S.JAR)
    ap.add_argument("--keep", action="store_true", help="keep the servers' working directory (logs)")
    opts = ap.parse_args()

    cat = catalogue()
    names = list(dict.fromkeys([n for n in opts.servers.split(",") if n] + S.add_variants(cat, opts.variant)))
    if opts.before_jar:
        # The same server from the other jar, beside each stream-detour edge in the run.
        before = os.path.abspath(opts.before_jar)
        for edge, name, argv in (("detour-netty", "detour-netty-before", [S.NATIVE, "-jar", before]),
                                 ("detour-kwik", "detour-before", ["-jar", before])):
            if edge in names or (edge == "detour-kwik" and "detour-netty" not in names):
                cat[name] = replace(cat[edge], label=f"{cat[edge].label} from {opts.before_jar}",
                                    command=S.java_server(argv))
                names.insert(names.index(edge) + 1 if edge in names else 0, name)
                RATIOS.insert(0, (edge, name))
    unknown = [n for n in names if n not in cat]
    if unknown:
        raise SystemExit(f"unknown servers {unknown}; known: {', '.join(cat)}")
    for r in opts.ratio:
        a, _, b = r.partition("/")
        RATIOS.append((a, b))
    wanted = [s for s in opts.scenarios.split(",") if s]
    if not wanted or any(s not in ("setup", "decision") for s in wanted):
        raise SystemExit("--scenarios: setup and/or decision")
    servers = [(n, cat[n]) for n in names]
    S.check_exists([opts.client, opts.jar, LOADGEN] + ([opts.echo] if any(not s.java for _, s in servers) else []))
    java = S.find_java()
    args = scenario_args(opts)

    S.stop_on_signals()
    workdir = tempfile.mkdtemp(prefix="stream-detour-targets-")
    ctx = {"jar": opts.jar, "echo": opts.echo, "workdir": workdir}
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    load_before = S.loadavg()
    running = S.start_all(servers, ctx, opts.client)
    results = {sid: {n: [] for n in names} for sid in wanted}
    failed_runs = 0
    lib = async_profiler(workdir) if opts.profile else None
    admins = {r.name: admin_url(r) for r in running if r.server.java}
    try:
        print(f"servers up in {workdir}: " + ", ".join(f"{r.name} udp {r.port} pid {r.pid}" for r in running),
              file=sys.stderr)
        for r in running:
            warm_up(java, r, args["setup"], opts)
        if lib:
            os.makedirs(opts.profile, exist_ok=True)
        for rnd in range(opts.rounds):
            for sid in wanted:
                k = rnd % len(running)
                for r in running[k:] + running[:k]:
                    profile = lib and sid == "setup" and r.server.java
                    out = os.path.abspath(os.path.join(opts.profile, f"{r.name}.r{rnd + 1}.collapsed")) if profile else None
                    if profile:
                        profiler_command(r, lib, f"start,event=ctimer,interval=1ms,threads,file={out},collapsed")
                    res = run_loadgen(java, r, args[sid], opts.threads, admins.get(r.name))
                    if profile:
                        profiler_command(r, lib, f"stop,file={out},collapsed")
                    results[sid][r.name].append(res)
                    if "run_failed" in res:
                        failed_runs += 1
                        print(f"round {rnd + 1} {sid} {r.name}: FAILED: {res['run_failed']}\n{res.get('stderr', '')}",
                              file=sys.stderr)
            print(f"round {rnd + 1}/{opts.rounds} done (load average {S.loadavg()[0]:.2f})", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"servers' logs kept in {workdir}", file=sys.stderr)
        raise
    finally:
        S.stop(*running)
    load_after = S.loadavg()
    summary = summarize(names, results)
    labels = {n: cat[n].label for n in names}
    print_tables(names, labels, summary, opts)
    print(f"\nload average (1 min) before / after: {load_before[0]:.2f} / {load_after[0]:.2f} on {os.cpu_count()} CPUs;"
          f" {failed_runs} failed runs")
    if opts.profile:
        print(f"profiles: {opts.profile}/NAME.rN.collapsed (bench/profile_breakdown.py)", file=sys.stderr)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"started": started, "rounds": opts.rounds, "cpus": os.cpu_count(), "kernel": platform.release(),
                       "loadavg_before": load_before, "loadavg_after": load_after,
                       "options": vars(opts), "scenario_args": args,
                       "servers": {r.name: {"label": labels[r.name], "argv": r.argv, "env": r.server.env}
                                   for r in running},
                       "summary": summary, "runs": results}, f, indent=1)
        print(f"JSON written to {opts.json}", file=sys.stderr)
    S.clean_up(workdir, opts.keep, failed_runs)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; every server it started is stopped")
