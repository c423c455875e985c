#!/usr/bin/env python3
"""What idle connections and idle sessions cost the server: threads, RSS, heap after a full GC, CPU.

For each server (stream-detour on its Kwik edge with -Xmx1g, and the Rust echo for comparison),
on 127.0.0.1, one after the other:

1. nothing open: threads, RSS, heap after a full GC (jcmd GC.run; JVMs only);
2. `--connections` idle connections from the quinn client (`--hold-idle`: no stream, a QUIC
   PING every 10 s, as g3proxy's pool): the same figures once every connection is up, and the
   server's CPU over `--window` seconds while they are held, by thread kind with wake-ups;
3. `--sessions` concurrent idle sessions from the load generator (`--session-idle`: north and
   south open, continued, then idle; 16 sessions per connection, as g3proxy's reuse limit;
   opened at `--session-rate` per second):
   the same figures once every session is set up, then each session relays 1 KiB each way
   byte-exact and ends.

Per connection and per session: the difference to step 1 over the count; the sessions' figure
first takes off what their connections cost at the per-connection rate of step 2.

The load generator needs an ALPN (BoringSSL), so every server here accepts `g3-detour` besides
none; the server's QUIC idle timeout is raised (`--quic-idle-timeout`) because the load
generator cannot send keep-alives to Kwik while its sessions idle.

usage: bench/scale.py [--connections 2000] [--sessions 10000] [--window 60]
                      [--servers detour-kwik,rust-echo] [--heap 1g] [--histogram 25]
"""
import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace

import servers as S

ALPN = "g3-detour"
LOADGEN_JAR = os.path.join(S.ROOT, "loadgen", "target", "stream-detour-loadgen.jar")


def echo_with_alpn(idle_timeout):
    def command(ctx, port):
        return [ctx["echo"], "--listen", f"127.0.0.1:{port}", "--exit-after", "86400", "--alpn", ALPN,
                "--idle-timeout", str(idle_timeout)]
    command.java = False
    return command


def scale_servers(heap, idle_timeout, nmt):
    """The servers as this benchmark runs them: every one takes ALPN g3-detour (and none)."""
    env = {"STREAM_DETOUR_QUIC__ALPN": ALPN, "STREAM_DETOUR_QUIC__IDLE_TIMEOUT": f"{idle_timeout}s"}
    java_opts = ([f"-Xmx{heap}"] if heap else []) + (["-XX:NativeMemoryTracking=summary"] if nmt else [])
    return {
        "detour-kwik": replace(S.SERVERS["detour-kwik"], label=f"stream-detour (Kwik edge{', -Xmx' + heap if heap else ''})",
                               env={**S.SERVERS["detour-kwik"].env, **env}, jvm_opts=java_opts),
        "kwik-echo": replace(S.SERVERS["kwik-echo"], label=f"bare Kwik echo{' (-Xmx' + heap + ')' if heap else ''}",
                             env={**S.SERVERS["kwik-echo"].env, **env}, jvm_opts=java_opts),
        "detour-netty": replace(S.SERVERS["detour-netty"], label=f"stream-detour (Netty edge{', -Xmx' + heap if heap else ''})",
                                env={**S.SERVERS["detour-netty"].env, **env}, jvm_opts=java_opts),
        "rust-echo": replace(S.SERVERS["rust-echo"], command=echo_with_alpn(idle_timeout), client_args=["--alpn", ALPN]),
    }


def snapshot(server, nmt=None):
    """Heap first: its full GC also settles RSS, so every reading is taken the same way.
    nmt: "baseline" to set the native memory baseline, "diff" to read what changed since."""
    heap = server.heap_used_mib(after_gc=True)
    threads, rss = S.status(server.pid)
    result = {"threads": threads, "rss_mib": rss, "heap_mib": heap}
    if nmt and server.server.java:
        text = server.jcmd("VM.native_memory", "summary.diff" if nmt == "diff" else "baseline")
        if nmt == "diff":
            # "-  Thread (reserved=...KB +..., committed=...KB +...KB)": the committed change by category.
            result["nmt"] = {m.group(1).strip(): int(m.group(3) or 0) for m in re.finditer(
                r"^-\s+([A-Za-z ]+?) \(reserved=\d+KB(?: [+-]\d+KB)?, committed=(\d+)KB(?: ([+-]\d+)KB)?\)", text, re.M)}
    return result


def histogram(server, top, path):
    """The classes holding most of the heap (jcmd GC.class_histogram, which runs a full GC first)."""
    text = server.jcmd("GC.class_histogram")
    with open(path, "w") as f:
        f.write(text)
    rows = [line for line in text.splitlines() if re.match(r"\s*\d+:\s+\d+\s+\d+", line)]
    return rows[:top]


class LineWatcher:
    """Reads a child's stream line by line on a thread; keeps counts of patterns and the last line."""

    def __init__(self, stream, log_path, patterns):
        self.counts = {name: 0 for name in patterns}
        self.patterns = {name: re.compile(p) for name, p in patterns.items()}
        self.last = {}
        self.first_seen = {}
        self.log = open(log_path, "w")
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        for line in stream:
            self.log.write(line)
            for name, pattern in self.patterns.items():
                m = pattern.search(line)
                if m:
                    self.counts[name] += 1
                    self.last[name] = m
                    self.first_seen.setdefault(name, time.time())
        self.log.close()


def end_client(proc, out, err, result):
    """Stops a client phase's process if it still runs and records its summary line in result."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    out.thread.join(5)
    err.thread.join(5)
    summary = out.last["summary"].group(0) if "summary" in out.last else "(no summary)"
    result["client"] = summary
    result["pass"] = "result=pass" in summary


def wait_for(condition, timeout, proc, what):
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return True
        if proc.poll() is not None:
            raise SystemExit(f"the client ended (status {proc.returncode}) before {what}")
        time.sleep(0.5)
    raise SystemExit(f"not within {timeout} s: {what}")


# Finer than servers.THREAD_KINDS where idle connections spend: Kwik's two timer threads apart.
IDLE_THREAD_KINDS = [("Kwik idle timer (per connection)", r"^idle-timer"),
                     ("Kwik loss detection (per connection)", r"^loss-detection"),
                     ("header timer", r"^header-timer")]


def idle_thread_kind(comm):
    for kind, pattern in IDLE_THREAD_KINDS:
        if re.search(pattern, comm):
            return kind
    return S.thread_kind(comm)


def thread_schedstats(pid):
    """{tid: (name, ns on CPU, times scheduled)} from /proc/PID/task/*/schedstat: to the nanosecond,
    where the clock-tick figures of /proc/PID/task/*/stat lose up to a tick per thread (with
    thousands of threads, more than the whole)."""
    stats = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns, _, slices = (int(x) for x in f.read().split())
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
        stats[tid] = (name, ns, slices)
    return stats


def cpu_window(server, seconds):
    """CPU % of one core over `seconds` (process total from /proc/PID/stat), and per thread kind
    the CPU % and wake-ups per second of the threads that lived through the window."""
    user0, sys0 = server.cpu_times()
    before = thread_schedstats(server.pid)
    t0 = time.time()
    time.sleep(seconds)
    user1, sys1 = server.cpu_times()
    after = thread_schedstats(server.pid)
    elapsed = time.time() - t0
    kinds = {}
    for tid, (name, ns, slices) in after.items():
        if tid in before:
            k = kinds.setdefault(idle_thread_kind(name), [0, 0, 0])
            k[0] += ns - before[tid][1]
            k[1] += slices - before[tid][2]
            k[2] += 1
    total = (user1 - user0) + (sys1 - sys0)
    return {"cpu_pct": 100 * total / elapsed, "sys_share": (sys1 - sys0) / total if total else 0.0,
            "kinds": {k: {"cpu_pct": 100 * v[0] / 1e9 / elapsed, "wakeups_per_s": v[1] / elapsed, "threads": v[2]}
                      for k, v in sorted(kinds.items(), key=lambda kv: -kv[1][0])}}


def wait_quiet(server, base_threads, java, seconds=120):
    """After a phase: wait until the server has let go of its connections (threads back near idle)."""
    if not java:
        time.sleep(5)
        return
    end = time.time() + seconds
    while time.time() < end and S.status(server.pid)[0] > base_threads + 20:
        time.sleep(1)


def connections_phase(server, opts, base, workdir):
    n = opts.connections
    hold = opts.hold
    argv = server.client_command(opts.client, ["--connections", str(n), "--hold-idle", str(hold),
                                                "--handshake-timeout", "120", "--keep-alive", "10", "-v"])
    print(f"  {n} idle connections: {shlex.join(argv[1:])}", file=sys.stderr)
    t0 = time.time()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = LineWatcher(proc.stderr, os.path.join(workdir, f"{server.name}-connections.stderr"),
                      {"up": r"connection \d+ up", "closed": r"closed while idle", "failed": r"quic connect"})
    out = LineWatcher(proc.stdout, os.path.join(workdir, f"{server.name}-connections.stdout"),
                      {"summary": r"mode=hold_idle.*"})
    result = {}
    try:
        wait_for(lambda: err.counts["up"] + err.counts["failed"] >= n, opts.connect_timeout, proc,
                 f"{n} connections up")
        result["connect_s"] = time.time() - t0
        if err.counts["failed"]:
            print(f"  {err.counts['failed']} connections failed to connect", file=sys.stderr)
        time.sleep(opts.settle)
        result.update(cpu_window(server, opts.window))
        result.update(snapshot(server, "diff" if opts.nmt else None))
        # Per-connection figures divide by the connections held when they were read.
        result["connections"] = err.counts["up"] - err.counts["closed"]
        margin = err.first_seen["up"] + hold - time.time()
        if margin < 0:
            print(f"  warning: the first connections' hold ended {-margin:.0f} s before the figures were read;"
                  " raise --hold", file=sys.stderr)
        proc.wait(timeout=hold + opts.connect_timeout + 120)
    finally:
        end_client(proc, out, err, result)
    return result


def sessions_phase(server, opts, base, workdir):
    s = opts.sessions
    argv = [S.find_java(), "-jar", opts.loadgen, "--server", f"127.0.0.1:{server.port}", "--alpn", ALPN,
            "--sessions", str(s), "--concurrency", str(s), "--rate", str(opts.session_rate), "--backlog", str(s),
            "--connections-per-socket", "16",
            "--session-idle", str(opts.session_hold), "--bytes", "1K", "--idle-timeout", str(opts.quic_idle_timeout),
            "--handshake-timeout", "120", "--request-timeout", "120", "--relay-timeout", "600"]
    argv[0] = S.find_java()
    print(f"  {s} idle sessions: loadgen {shlex.join(argv[3:])}", file=sys.stderr)
    t0 = time.time()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = LineWatcher(proc.stderr, os.path.join(workdir, f"{server.name}-sessions.stderr"),
                      {"progress": r"set_up (\d+) ok (\d+) failed (\d+) in_flight (\d+) conns (\d+)"})
    out = LineWatcher(proc.stdout, os.path.join(workdir, f"{server.name}-sessions.stdout"),
                      {"summary": r"mode=.*"})

    def progress(i):
        m = err.last.get("progress")
        return int(m.group(i)) if m else 0

    result = {}
    try:
        wait_for(lambda: progress(1) + progress(3) >= s, opts.connect_timeout, proc, f"{s} sessions set up")
        result["setup_s"] = time.time() - t0
        result["connections"] = progress(5)
        if progress(3):
            print(f"  {progress(3)} sessions failed during set-up", file=sys.stderr)
        time.sleep(opts.settle)
        result.update(cpu_window(server, opts.session_window))
        result.update(snapshot(server, "diff" if opts.nmt else None))
        if opts.histogram and server.server.java:
            result["histogram"] = histogram(server, opts.histogram, os.path.join(workdir, f"{server.name}-histogram.txt"))
        if time.time() - err.first_seen["progress"] > opts.session_hold:
            print("  warning: some sessions may have ended their idle hold before the figures were read;"
                  " raise --session-hold", file=sys.stderr)
        proc.wait(timeout=opts.session_hold + 900)
    finally:
        end_client(proc, out, err, result)
    return result


def per(value, base, count, scale=1024):
    if value is None or base is None or not count:
        return None
    return (value - base) * scale / count


def fmt(v, digits=0):
    return "–" if v is None else f"{v:,.{digits}f}".replace(",", " ")


def report(results, opts):
    print(f"\n{opts.connections} idle connections (quinn --hold-idle, PING every 10 s), then {opts.sessions} idle"
          f" sessions (loadgen --session-idle, 16 per connection)\n")
    print("| server | state | threads | RSS MiB | heap MiB after GC | CPU % of a core (system share) |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        label = r["label"]
        print(f"| {label} | nothing open | {r['base']['threads']} | {fmt(r['base']['rss_mib'])} |"
              f" {fmt(r['base']['heap_mib'], 1)} | – |")
        c = r.get("conn")
        if c:
            print(f"| {label} | {c['connections']} idle connections | {c['threads']} | {fmt(c['rss_mib'])} |"
                  f" {fmt(c['heap_mib'], 1)} | {fmt(c['cpu_pct'], 1)} ({fmt(100 * c['sys_share'])} %) |")
        s = r.get("sess")
        if s:
            print(f"| {label} | {opts.sessions} idle sessions on {s['connections']} connections | {s['threads']} |"
                  f" {fmt(s['rss_mib'])} | {fmt(s['heap_mib'], 1)} | {fmt(s['cpu_pct'], 1)} ({fmt(100 * s['sys_share'])} %) |")
    print("\n| server | threads per connection | RSS KiB per connection | heap KiB per connection |"
          " threads per session | RSS KiB per session | heap KiB per session |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        b, c, s = r["base"], r.get("conn"), r.get("sess")
        row = [r["label"]]
        n = c["connections"] if c else 0
        conn_heap = per(c["heap_mib"], b["heap_mib"], n) if c else None
        conn_rss = per(c["rss_mib"], b["rss_mib"], n) if c else None
        conn_threads = per(c["threads"], b["threads"], n, 1) if c else None
        row += [fmt(conn_threads, 2), fmt(conn_rss), fmt(conn_heap, 1)]
        if s:
            k = s["connections"]
            # The sessions' own share: what their k connections cost at the idle-connection rate is taken off.
            def own(key, per_conn, scale=1024):
                if s[key] is None or b[key] is None:
                    return None
                return ((s[key] - b[key]) * scale - (per_conn or 0) * k) / opts.sessions
            row += [fmt(own("threads", conn_threads, 1), 2), fmt(own("rss_mib", conn_rss)),
                    fmt(own("heap_mib", conn_heap), 1)]
        else:
            row += ["–"] * 3
        print("| " + " | ".join(row) + " |")
    for name, r in results.items():
        for phase, title in (("conn", f"{opts.connections} idle connections"), ("sess", f"{opts.sessions} idle sessions")):
            p = r.get(phase)
            if p and p.get("kinds"):
                print(f"\n{r['label']}, {title}: CPU by thread kind (process total {p['cpu_pct']:.1f} %)\n")
                print("| thread kind | threads | CPU % of a core | wake-ups per second |")
                print("|---|---|---|---|")
                for k, v in p["kinds"].items():
                    if v["cpu_pct"] >= 0.05 or v["wakeups_per_s"] >= 10:
                        print(f"| {k} | {v['threads']} | {v['cpu_pct']:.2f} | {fmt(v['wakeups_per_s'])} |")
    for name, r in results.items():
        for phase, count in (("conn", opts.connections), ("sess", opts.sessions)):
            p = r.get(phase)
            if p and p.get("nmt"):
                count = p.get("connections", count) if phase == "conn" else count
                grown = ", ".join(f"{k} {v / count:.1f}" for k, v in sorted(p["nmt"].items(), key=lambda kv: -kv[1])
                                  if abs(v) / count >= 0.5)
                print(f"\n{r['label']}, native memory committed since nothing was open, KiB per"
                      f" {'connection' if phase == 'conn' else 'session'}: {grown}")
        for phase in ("conn", "sess"):
            p = r.get(phase)
            if p:
                print(f"\n{r['label']} {phase} client: {p['client']}")
        if r.get("sess", {}).get("histogram"):
            print(f"\n{r['label']}, {opts.sessions} idle sessions, heap by class (after GC):")
            for line in r["sess"]["histogram"]:
                print("  " + line.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--window", type=int, default=60, help="seconds of CPU measured with the idle connections")
    ap.add_argument("--session-window", type=int, default=20, help="seconds of CPU measured with the idle sessions")
    ap.add_argument("--session-rate", type=int, default=250,
                    help="new sessions per second until all are open (g3proxy's sessions do not all come at once)")
    ap.add_argument("--settle", type=int, default=10, help="seconds after the last connection or session is up")
    ap.add_argument("--hold", type=int, default=150, help="seconds each idle connection is held (from its handshake)")
    ap.add_argument("--session-hold", type=int, default=120, help="seconds each session idles before its data")
    ap.add_argument("--connect-timeout", type=int, default=300, help="seconds to get every connection or session up")
    ap.add_argument("--quic-idle-timeout", type=int, default=300)
    ap.add_argument("--heap", default="1g", help="-Xmx of the Java servers (empty: the JVM's default)")
    ap.add_argument("--phases", default="connections,sessions")
    ap.add_argument("--nmt", action="store_true",
                    help="JVMs with native memory tracking: what each phase added to native memory, by category")
    ap.add_argument("--histogram", type=int, default=0, help="print the N classes holding most heap with the sessions")
    ap.add_argument("--servers", default="detour-kwik,rust-echo", help="comma-separated, of detour-kwik, kwik-echo, detour-netty, rust-echo")
    ap.add_argument("--client", default=S.client_path())
    ap.add_argument("--echo", default=S.echo_path())
    ap.add_argument("--jar", default=S.JAR)
    ap.add_argument("--loadgen", default=LOADGEN_JAR)
    ap.add_argument("--json", help="write every figure to this file")
    opts = ap.parse_args()
    catalogue = scale_servers(opts.heap, opts.quic_idle_timeout, opts.nmt)
    names = opts.servers.split(",")
    unknown = [n for n in names if n not in catalogue]
    if unknown:
        raise SystemExit(f"unknown servers {unknown}; known: {', '.join(catalogue)}")
    phases = opts.phases.split(",")
    S.check_exists([opts.client, opts.jar] + ([opts.echo] if "rust-echo" in names else [])
                   + ([opts.loadgen] if "sessions" in phases else []))
    S.stop_on_signals()
    workdir = tempfile.mkdtemp(prefix="stream-detour-scale-")
    load_before = S.loadavg()
    print(f"load average before: {load_before}", file=sys.stderr)
    results = {}
    try:
        for name in names:
            running = S.start_all([(name, catalogue[name])], {"jar": opts.jar, "echo": opts.echo, "workdir": workdir},
                                  opts.client)
            r = running[0]
            try:
                time.sleep(3)
                entry = results[name] = {"label": r.server.label, "base": snapshot(r, "baseline" if opts.nmt else None)}
                print(f"{r.server.label}: nothing open {entry['base']}", file=sys.stderr)
                if "connections" in phases:
                    entry["conn"] = connections_phase(r, opts, entry["base"], workdir)
                    print(f"  held: {({k: v for k, v in entry['conn'].items() if k != 'kinds'})}", file=sys.stderr)
                    wait_quiet(r, entry["base"]["threads"], r.server.java)
                if "sessions" in phases:
                    entry["sess"] = sessions_phase(r, opts, entry["base"], workdir)
                    print(f"  held: {({k: v for k, v in entry['sess'].items() if k not in ('kinds', 'histogram')})}",
                          file=sys.stderr)
                print(f"  load average {S.loadavg()}", file=sys.stderr)
            finally:
                S.stop(r)
    finally:
        load_after = S.loadavg()
        if results:
            report(results, opts)
            print(f"\nload average before {load_before}, after {load_after}; {os.cpu_count()} CPUs;"
                  f" client logs in {workdir}")
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump({"options": vars(opts), "results": results, "loadavg_before": load_before,
                           "loadavg_after": load_after, "kernel": platform.release()}, f, indent=1, default=str)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted; every server it started is stopped")
