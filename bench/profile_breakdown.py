#!/usr/bin/env python3
"""Where a Java server's CPU went during session setup, from async-profiler's collapsed stacks.

Reads the per-thread collapsed stacks that bench/targets.py --profile DIR records (async-profiler,
event=ctimer, option threads: the first frame is the thread's name) and prints:
  - samples by thread kind (Kwik's per-connection receiver and sender, the connector, the stream
    virtual threads' carriers, Vert.x event loops and workers, JIT, GC, ...);
  - samples by task, the first rule matching the stack deciding: the QUIC handshake and the
    connection's threads (per connection, shared by its 16 sessions) apart from the per-stream
    work (header, decision, pairing, reply, relay, session log, metrics, thread hand-offs);
  - with --top N, the frames with the most self time; with --grep REGEX, the frames matching it
    with their inclusive share.

usage: bench/profile_breakdown.py FILE.collapsed [FILE ...] [--top 30] [--grep REGEX]
"""
import argparse
import collections
import re

# Thread name (digits and ids folded) -> kind; first match wins.
THREADS = [
    ("Kwik receiver (per connection)", r"^receiver-."), ("Kwik sender (per connection)", r"^sender-"),
    ("Kwik connector (socket reader, dispatch)", r"^(server (receive|connecto)|receiver$)"),
    ("Kwik loss detection, idle timers (per connection)", r"^(loss-detection|idle-timer)"),
    ("Kwik callbacks (per connection)", r"^callbacks"),
    ("virtual-thread carriers", r"^ForkJoinPool-\d+-worker"),
    ("virtual-thread timers and unblocker", r"^(ForkJoinPool-\d+-delayScheduler|VirtualThread-unblocker)"),
    ("Vert.x event loops", r"^vert\.x-eventloop"), ("Vert.x workers", r"^vert\.x-(worker|internal-blocking)"),
    ("header timer", r"^header-timer"), ("send-stall guard", r"^kwik-send-stal"),
    ("JIT", r"^C[12] Compiler"), ("GC", r"^(GC Thread|G1 |VM Thread)"),
]

# Task by stack (frames joined with ';'); first match wins.
TASKS = [
    ("JIT compilation", r"^\[C[12] Compiler"),
    ("GC", r"^\[(GC Thread|G1 |VM Thread)"),
    ("handshake: TLS (key exchange, signature, transcript)", r"tech/kwik/agent15/|TlsServerEngine"),
    ("handshake: Initial/Handshake packets, connection set-up (new connection, its threads)",
     r"InitialPacket\.|HandshakePacket\.|ServerConnectorImpl\.(createNewConnection|process)|ServerConnectionFactory|"
     r"ServerConnectionImpl\.<init>|ServerConnectionCandidate|pthread_create|Thread\.start"),
    ("connection close, teardown", r"ConnectionCloseFrame|QuicConnectionImpl\.(terminate|handlePeerClosing|immediateClose|"
                                   r"drain)|ServerConnectionImpl\.terminate"),
    ("stream-detour: header read and decode", r"io/streamdetour/edge/HeaderReader|io/streamdetour/codec/HeaderDecoder"),
    ("stream-detour: decision (bus request, policy, reply)", r"SessionCoordinator\.decide|PolicyVerticle|policy/Policy\."),
    ("stream-detour: pairing", r"SessionCoordinator\.(pairSouth|awaitSouth)|PairingClient|PairingVerticle|"
                               r"SessionCoordinator\$\$Lambda.*\.handle"),
    ("stream-detour: session end, session log", r"SessionCoordinator\.(ended|publish)|SessionLogVerticle|Session\.end"),
    ("stream-detour: metrics", r"io/micrometer/"),
    ("stream-detour: reply and relay (stream reads and writes)", r"SessionCoordinator\.reply|StreamRelay|KwikStream"),
    ("stream-detour: other", r"io/streamdetour/"),
    ("Vert.x event loop, bus, timers (not attributed above)", r"^\[vert\.x-|io/vertx/"),
    ("virtual-thread scheduling, parking", r"^\[(ForkJoinPool|VirtualThread)|java/lang/VirtualThread"),
    ("Kwik: streams (per stream)", r"tech/kwik/core/stream/|StreamFrame|MaxStreamsFrame"),
    ("Kwik: packets, acks, loss detection, sending (per packet)", r"tech/kwik/"),
]


def fold(name):
    name = re.sub(r" tid=\d+", "", name.strip("[]"))
    return re.sub(r"^(receiver|sender|idle-timer|loss-detection|callbacks)-.*", r"\1-x", name) \
        if not name == "receiver" else name


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--grep", help="frames matching this regular expression, inclusive share")
    opts = ap.parse_args()
    rows = []
    for path in opts.files:
        with open(path) as f:
            for line in f:
                stack, _, n = line.rstrip("\n").rpartition(" ")
                if stack:
                    rows.append((stack, int(n)))
    total = sum(n for _, n in rows)
    print(f"{total} samples in {len(opts.files)} file(s)")

    def table(title, counter):
        print(f"\n{title}")
        for key, n in counter.most_common():
            print(f"{100 * n / total:6.1f} %  {key}")

    threads, tasks, selfs = collections.Counter(), collections.Counter(), collections.Counter()
    for stack, n in rows:
        frames = stack.split(";")
        thread = fold(frames[0])
        threads[next((k for k, p in THREADS if re.search(p, thread)), "other: " + re.sub(r"\d+", "N", thread))] += n
        tasks[next((k for k, p in TASKS if re.search(p, stack)), "other (JVM, libc)")] += n
        selfs[frames[-1]] += n
    table("by thread kind", threads)
    table("by task (first rule that matches the stack)", tasks)
    print(f"\ntop {opts.top} frames by self time")
    for frame, n in selfs.most_common(opts.top):
        print(f"{100 * n / total:6.1f} %  {frame}")
    if opts.grep:
        pattern, incl = re.compile(opts.grep), collections.Counter()
        for stack, n in rows:
            for frame in set(f for f in stack.split(";")[1:] if pattern.search(f)):
                incl[frame] += n
        table(f"frames matching {opts.grep!r}, inclusive", incl)


if __name__ == "__main__":
    main()
