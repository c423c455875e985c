#!/usr/bin/env python3
"""Where a Java server's CPU time went, from a JFR recording's execution samples.

Reads jdk.ExecutionSample events (jfr print --json; the jfr of bin/find-java's JDK) and prints:
  - samples by thread kind (Kwik's per-connection threads, the stream virtual threads, Vert.x, ...);
  - self time by layer: the top frame's code (AES-GCM, Kwik's packet/stream/recovery code,
    JDK concurrency, UDP I/O, stream-detour, Vert.x, Micrometer, ...);
  - the methods with the most self time, each with the first frame outside the JDK that led to it;
  - with --callers TEXT, the call paths of the samples whose stack has a frame containing TEXT.
JFR's execution samples cover Java code only: GC and JIT threads show in CPU time, not here.

usage: bench/jfr_breakdown.py FILE.jfr [--top 25] [--callers TEXT] [--depth 12]
Record one with bench/compare_echo.py --jfr DIR (after the warm-up, settings=profile).
"""
import argparse
import collections
import json
import os
import re
import subprocess

import servers as S

# First match wins: (layer, regular expression on "package.Class.method").
LAYERS = [
    ("AES-GCM and other JCE crypto", r"^(com\.sun\.crypto\.provider|javax\.crypto|sun\.security|java\.security|"
                                     r"org\.bouncycastle)\."),
    ("Kwik: header protection, AEAD glue", r"^tech\.kwik\.core\.crypto\."),
    ("Kwik: packet assembly and parsing", r"^tech\.kwik\.core\.(packet|frame|generic)\."),
    ("Kwik: sending (sender, congestion control)", r"^tech\.kwik\.core\.(send|cc)\."),
    ("Kwik: loss detection, acks", r"^tech\.kwik\.core\.(recovery|ack)\."),
    ("Kwik: streams and flow control", r"^tech\.kwik\.core\.stream\."),
    ("Kwik: receiving, connection", r"^tech\.kwik\.core\.(receive|impl|server|common|util)\."),
    ("Kwik: logging", r"^tech\.kwik\.core\.log\."),
    ("Kwik: other", r"^tech\.kwik\."),
    ("UDP socket I/O", r"^(sun\.nio\.ch|java\.net|sun\.net)\."),
    ("stream-detour", r"^io\.streamdetour\."),
    ("Vert.x", r"^io\.vertx\."),
    ("Netty", r"^io\.netty\."),
    ("Micrometer, Prometheus", r"^(io\.micrometer|io\.prometheus)\."),
    ("logging", r"^(ch\.qos\.logback|org\.slf4j)\."),
    ("JDK: locks, queues, thread scheduling", r"^(java\.util\.concurrent|jdk\.internal\.misc\.Unsafe|java\.lang\.(Virtual)?Thread|"
                                              r"java\.lang\.Object\.(wait|notify)|jdk\.internal\.vm\.Continuation)"),
    ("JDK: collections, streams, lambdas", r"^(java\.util\.|java\.lang\.invoke\.)"),
    ("JDK: strings, numbers, formatting", r"^(java\.lang\.(String|AbstractStringBuilder|StringBuilder|StringLatin1|StringConcat|"
                                          r"Integer|Long)|jdk\.internal\.util\.(DecimalDigits|HexDigits))"),
    ("JDK: time", r"^java\.time\."),
    ("JDK: other", r"^(java|javax|jdk|sun|com\.sun)\."),
]
def frame_name(frame):
    m = frame["method"]
    return m["type"]["name"].replace("/", ".") + "." + m["name"]


def layer_of(name):
    for layer, pattern in LAYERS:
        if re.search(pattern, name):
            return layer
    return "other: " + name.rsplit(".", 2)[0]


def thread_kind(thread):
    """The kinds of servers.py (which reads /proc's names, the first 15 characters of these)."""
    if thread.get("virtual"):
        return "virtual threads (streams: header, relay)"
    name = thread.get("javaName") or thread.get("osName") or "?"
    kind = S.thread_kind(name)
    return kind if kind != "other" else "other: " + re.sub(r"[-#]?\d+$", "", name)


def samples(path):
    jfr = os.path.join(os.path.dirname(S.find_java()), "jfr")
    out = subprocess.run([jfr, "print", "--json", "--stack-depth", "64", "--events", "jdk.ExecutionSample", path],
                         capture_output=True, text=True, check=True).stdout
    for event in json.loads(out)["recording"]["events"]:
        values = event["values"]
        frames = [frame_name(f) for f in (values.get("stackTrace") or {}).get("frames", [])]
        if frames:
            yield values.get("sampledThread") or {}, frames


def table(title, counter, total, top=None):
    print(f"\n{title}")
    print("| | samples | % |")
    print("|---|---|---|")
    for key, n in counter.most_common(top):
        print(f"| {key} | {n} | {100 * n / total:.1f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("jfr")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--callers", help="print the call paths of samples with a frame containing this text")
    ap.add_argument("--depth", type=int, default=12, help="frames shown per call path (default 12)")
    opts = ap.parse_args()
    by_thread, by_layer, by_method, paths = (collections.Counter() for _ in range(4))
    origin = collections.defaultdict(collections.Counter)
    total = 0
    for thread, frames in samples(opts.jfr):
        total += 1
        by_thread[thread_kind(thread)] += 1
        by_layer[layer_of(frames[0])] += 1
        by_method[frames[0]] += 1
        caller = next((f for f in frames if not re.match(r"^(java|javax|jdk|sun|com\.sun)\.", f)), "(JDK only)")
        origin[frames[0]][caller] += 1
        if opts.callers and any(opts.callers in f for f in frames):
            paths[" <- ".join(frames[:opts.depth])] += 1
    if not total:
        raise SystemExit("no execution samples in " + opts.jfr)
    print(f"{opts.jfr}: {total} execution samples")
    table("by thread", by_thread, total)
    table("self time by layer (top frame)", by_layer, total)
    print(f"\nmethods with the most self time; first frame outside the JDK that led there")
    print("| method | samples | % | reached from |")
    print("|---|---|---|---|")
    for method, n in by_method.most_common(opts.top):
        caller, _ = origin[method].most_common(1)[0]
        print(f"| {method} | {n} | {100 * n / total:.1f} | {caller if caller != method else '-'} |")
    if opts.callers:
        matched = sum(paths.values())
        print(f"\n{matched} samples ({100 * matched / total:.1f} %) have a frame containing '{opts.callers}'; their paths:")
        for path, n in paths.most_common(opts.top):
            print(f"{n:6d}  {path}")


if __name__ == "__main__":
    main()
