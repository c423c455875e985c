#!/usr/bin/env python3
"""What clustered pairing costs: session setup rate and decision latency, one node against three.

Runs in the VIP lab (cluster/vip-lab.sh: network namespaces and nftables, so it needs root), the
load generator (loadgen/, --driver loadgen, the default; the nodes then accept its ALPN id) or
the quinn client (--driver quinn) in the lab's client namespace, in these set-ups, one after the other, each on fresh
JVMs:
  single     one node, not clustered; the client at the node
  cluster-1  one clustered node (a cluster of one); the client at the node
  local      three nodes, pairing on every node; setup rate at the VIP, latency at node 2
  remote     three nodes, pairing on node 1 only; setup rate at the VIP, latency at node 2, whose
             halves then pair on node 1 (a cluster round trip per half)
Workloads, zero-byte sessions (g3proxy's headers, the reply, both streams finished):
  rate       --sessions N at concurrency 48 over 24 connections: sessions per second, and the
             decision latency under that load
  latency    400 sessions one at a time on one connection: the decision latency alone
After a warm-up, --rounds rounds of both; medians. From the nodes' metrics: the share of
pairing requests sent to another node's instance and their mean round trip
(stream_detour_pairing_remote_duration_seconds).

usage: bench/cluster_pairing.py [--rounds 3] [--sessions 3000] [--setups single,cluster-1,local,remote]
                               [--driver loadgen|quinn]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

from servers import ROOT, client_path, find_java

LAB = os.path.join(ROOT, "cluster", "vip-lab.sh")
REMOTE_PAIRING = "STREAM_DETOUR_PAIRING__LOCAL=false"

# name: (nodes started, extra environment, client target for rate, for latency)
SETUPS = {
    "single": ("1", {"SDLAB_CLUSTER": "no"}, ["--node", "1"], ["--node", "1"]),
    "cluster-1": ("1", {}, ["--node", "1"], ["--node", "1"]),
    "local": ("1 2 3", {}, [], ["--node", "2"]),
    "remote": ("1 2 3", {"SDLAB_NODE_ENV_2": REMOTE_PAIRING, "SDLAB_NODE_ENV_3": REMOTE_PAIRING}, [], ["--node", "2"]),
}


def lab(env, *args, check=True):
    r = subprocess.run(["bash", LAB] + list(args), env=env, capture_output=True, text=True, timeout=900)
    if check and r.returncode != 0:
        raise SystemExit(f"vip-lab.sh {' '.join(args)}: exit {r.returncode}\n{r.stderr[-3000:]}")
    return r.stdout


LOADGEN = os.path.join(ROOT, "loadgen", "target", "stream-detour-loadgen.jar")
ALPN = "g3-detour"


def lab_env(env):
    return dict(re.findall(r"^(\w+)=(.*)$", lab(env, "env"), re.M))


def client(env, target, args):
    if env.get("BENCH_DRIVER") == "loadgen":
        return loadgen(env, target, args)
    line = lab(env, "client", *target, *args, check=False).strip().splitlines()
    kv = dict(re.findall(r"(\S+)=(\S+)", line[-1] if line else ""))
    if kv.get("result") != "pass":
        raise SystemExit(f"client run failed: {line[-1] if line else '(no output)'}")
    return kv


def loadgen(env, target, args):
    """The load generator in the client namespace, at the VIP or at --node N, the lab's CA verified."""
    names = lab_env(env)
    server = names["SDLAB_VIP"]
    if target:
        server = names[f"SDLAB_NODE{target[1]}"].split()[1] + ":" + server.split(":")[1]
    command = ["ip", "netns", "exec", names["SDLAB_CLIENT"], find_java(), "-jar", LOADGEN, "--server", server,
               "--alpn", ALPN, "--ca-cert", names["SDLAB_CA"], "--server-name", names["SDLAB_TLS_NAME"]]
    r = subprocess.run(command + list(args), capture_output=True, text=True, timeout=900)
    line = r.stdout.strip().splitlines()
    kv = dict(re.findall(r"(\S+)=(\S+)", line[-1] if line else ""))
    if kv.get("result") != "pass":
        raise SystemExit(f"load generator run failed: {line[-1] if line else r.stderr[-2000:]}")
    return kv


def metric(text, name, **labels):
    total = 0.0
    for m in re.finditer(r"^" + re.escape(name) + r"(?:\{([^}]*)\})?\s+(\S+)$", text, re.M):
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


def pairing_counts(env, nodes):
    remote = local = rt_sum = rt_count = 0.0
    for n in nodes.split():
        text = lab(env, "admin", n, "/metrics")
        remote += metric(text, "stream_detour_pairing_requests_total", instance="remote")
        local += metric(text, "stream_detour_pairing_requests_total", instance="local")
        rt_sum += metric(text, "stream_detour_pairing_remote_duration_seconds_sum")
        rt_count += metric(text, "stream_detour_pairing_remote_duration_seconds_count")
    return remote, local, rt_sum, rt_count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=3000, help="sessions of each rate run")
    ap.add_argument("--setups", default=",".join(SETUPS))
    ap.add_argument("--driver", choices=["loadgen", "quinn"], default="loadgen",
                    help="the load generator (loadgen/, build it first) or the quinn client")
    ap.add_argument("--client", default=None, help="the quinn client (default: as servers.py finds it)")
    opts = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: the lab is made of network namespaces and nftables")
    opts.client = opts.client or client_path()
    if opts.driver == "quinn" and not os.path.exists(opts.client):
        raise SystemExit(f"missing {opts.client}: build the quinn tools with .ci/run")
    if opts.driver == "loadgen" and not os.path.exists(LOADGEN):
        raise SystemExit(f"missing {LOADGEN}: cd loadgen && mvn package -DskipTests")
    base = dict(os.environ, SDLAB_PREFIX="sdbench", G3_DETOUR_CLIENT=opts.client, BENCH_DRIVER=opts.driver)
    if opts.driver == "loadgen":
        base["STREAM_DETOUR_QUIC__ALPN"] = ALPN
    rate = ["--connections", "24", "--reuse-limit", "64", "--sessions", str(opts.sessions), "--concurrency", "48",
            "--bytes", "0"]
    latency = ["--connections", "1", "--reuse-limit", "1000", "--sessions", "400", "--concurrency", "1",
               "--bytes", "0"]
    rows = []
    lab(base, "up")
    try:
        for name in opts.setups.split(","):
            nodes, extra, rate_target, latency_target = SETUPS[name]
            env = dict(base, **extra)
            lab(env, "stop-nodes", check=False)
            lab(env, "start-nodes", *nodes.split())
            client(env, rate_target, rate)  # warm-up
            client(env, latency_target, latency)
            before = pairing_counts(env, nodes)
            runs = []
            for i in range(opts.rounds):
                r = client(env, rate_target, rate)
                l = client(env, latency_target, latency)
                runs.append((int(r["sessions"]) / float(r["wall_s"]), int(r["decision_p50_us"]),
                             int(r["decision_p99_us"]), int(l["decision_p50_us"]), int(l["decision_p99_us"])))
                print(f"{name}: round {i + 1}/{opts.rounds}: {runs[-1]}", file=sys.stderr)
            after = pairing_counts(env, nodes)
            remote, local = after[0] - before[0], after[1] - before[1]
            rt_count = after[3] - before[3]
            rows.append((name, *(statistics.median(x[k] for x in runs) for k in range(5)),
                         remote / (remote + local) if remote + local else 0.0,
                         (after[2] - before[2]) / rt_count * 1000 if rt_count else None))
        lab(base, "stop-nodes", check=False)
    finally:
        lab(base, "down", check=False)
    print(f"medians of {opts.rounds} rounds; rate: {opts.sessions} zero-byte sessions, concurrency 48, 24 connections;"
          " latency: 400 sessions one at a time on one connection")
    print("| set-up | sessions/s | decision p50 / p99 µs under load | decision p50 / p99 µs one at a time |"
          " pairing requests to another node | remote pairing round trip, mean ms |")
    print("|---|---|---|---|---|---|")
    for name, rate_s, p50, p99, lp50, lp99, share, rt in rows:
        print(f"| {name} | {rate_s:.0f} | {p50:.0f} / {p99:.0f} | {lp50:.0f} / {lp99:.0f} | {share:.0%} | "
              + (f"{rt:.2f} |" if rt is not None else "– |"))


if __name__ == "__main__":
    main()
