"""The servers the benchmark scripts start, and what they share: tool lookup, start, stop, CPU.

Every server listens on 127.0.0.1 on a UDP port of its own and is driven by the same quinn
client (g3proxy on the wire). A server is one entry in SERVERS: a name, a label for the tables,
a command, environment, and the client options it needs (the Netty servers: --alpn, as BoringSSL
refuses a QUIC client without ALPN). A new server is one more entry here, and the ratios it
should be compared by go to RATIOS in compare_echo.py.
"""
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "target", "g3-detour-client", "release")
JAR = os.path.join(ROOT, "target", "stream-detour.jar")


def client_path():
    """G3_DETOUR_CLIENT (as bin/test), else the build under target/g3-detour-client/release."""
    return os.environ.get("G3_DETOUR_CLIENT") or os.path.join(TOOLS, "g3-detour-client")


def echo_path():
    """DETOUR_ECHO_SERVER, else beside the client, else the build under target/."""
    if os.environ.get("DETOUR_ECHO_SERVER"):
        return os.environ["DETOUR_ECHO_SERVER"]
    beside = os.path.join(os.path.dirname(client_path()), "detour-echo-server")
    return beside if os.path.exists(beside) else os.path.join(TOOLS, "detour-echo-server")


def loadavg():
    """The 1, 5 and 15 minute load averages."""
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def status(pid):
    """Threads and RSS in MiB of process PID, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        text = f.read()
    threads = int(re.search(r"^Threads:\s+(\d+)", text, re.M).group(1))
    rss_kib = int(re.search(r"^VmRSS:\s+(\d+)", text, re.M).group(1))
    return threads, rss_kib / 1024


def find_java():
    return subprocess.check_output([os.path.join(ROOT, "bin", "find-java")], text=True).strip() + "/bin/java"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def java_server(args):
    """A JVM command; '{jar}' in args is the jar. STREAM_DETOUR_JAVA_OPTS applies, as in bin/stream-detour."""
    def command(ctx, port):
        opts = shlex.split(os.environ.get("STREAM_DETOUR_JAVA_OPTS", ""))
        return [find_java()] + opts + [a.format(jar=ctx["jar"]) for a in args]
    command.java = True
    return command


def echo_server(ctx, port):
    return [ctx["echo"], "--listen", f"127.0.0.1:{port}", "--exit-after", "86400"]


echo_server.java = False


@dataclass(frozen=True)
class Server:
    label: str
    command: object  # (ctx, port) -> argv; .java says whether it is a JVM
    env: dict = field(default_factory=dict)
    client_args: list = field(default_factory=list)
    jvm_opts: list = field(default_factory=list)

    @property
    def java(self):
        return self.command.java

    def with_variant(self, label, tokens):
        """A copy with more JVM options (tokens starting with '-') and environment (NAME=VALUE)."""
        opts = [t for t in tokens if t.startswith("-")]
        env = dict(t.split("=", 1) for t in tokens if not t.startswith("-"))
        if opts and not self.java:
            raise ValueError(f"JVM options for a server that is not a JVM: {opts}")
        return replace(self, label=label, env={**self.env, **env}, jvm_opts=self.jvm_opts + opts)


# Java servers share the quic.* defaults and get their port, certificate directory and an
# ephemeral admin port from the environment; their configuration is the embedded defaults.
# The Netty edge serves only clients that offer ALPN: its servers name one, and the client offers it.
NETTY_ENV = {"STREAM_DETOUR_QUIC__EDGE": "netty", "STREAM_DETOUR_QUIC__ALPN": "g3-detour"}
NETTY_CLIENT = ["--alpn", "g3-detour"]
# -cp ignores the jar manifest's Enable-Native-Access: the QUIC and epoll natives need it said.
NATIVE = "--enable-native-access=ALL-UNNAMED"

SERVERS = {
    "detour-kwik": Server("stream-detour (Kwik edge)", java_server(["-jar", "{jar}"])),
    "kwik-echo": Server("bare Kwik echo", java_server(["-cp", "{jar}", "io.streamdetour.bench.KwikEchoServer"])),
    "detour-netty": Server("stream-detour (Netty edge)", java_server([NATIVE, "-jar", "{jar}"]),
                           env=NETTY_ENV, client_args=NETTY_CLIENT),
    "netty-echo": Server("bare Netty echo", java_server([NATIVE, "-cp", "{jar}", "io.streamdetour.bench.NettyEchoServer"]),
                         env=NETTY_ENV, client_args=NETTY_CLIENT),
    "rust-echo": Server("Rust echo (quinn)", echo_server),
}


class Running:
    """One started server: its process, port and how to reach it."""

    def __init__(self, name, server, ctx):
        self.name = name
        self.server = server
        self.port = free_udp_port()
        argv = server.command(ctx, self.port)
        if server.java:
            argv = argv[:1] + server.jvm_opts + argv[1:]
        # The server's own environment last: a variant may set any of these (an admin port to read).
        env = dict(os.environ, STREAM_DETOUR_QUIC__PORT=str(self.port), STREAM_DETOUR_QUIC__HOST="127.0.0.1",
                   STREAM_DETOUR_ADMIN__HOST="127.0.0.1", STREAM_DETOUR_ADMIN__PORT="0",
                   STREAM_DETOUR_TLS__GENERATED_DIR=os.path.join(ctx["workdir"], name, "run"))
        env.update(server.env)
        self.workdir = os.path.join(ctx["workdir"], name)
        os.makedirs(self.workdir, exist_ok=True)
        self.argv = argv
        self.proc = subprocess.Popen(argv, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(self.workdir, "stdout"), "w"),
                                     stderr=open(os.path.join(self.workdir, "stderr"), "w"))

    @property
    def pid(self):
        return self.proc.pid

    def client_command(self, client, args):
        return [client, "--server", f"127.0.0.1:{self.port}"] + self.server.client_args + args

    def wait_ready(self, client, deadline=90):
        end = time.time() + deadline
        while time.time() < end:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode} at start; see {self.workdir}/stderr")
            r = subprocess.run(self.client_command(client, ["--sessions", "1", "--bytes", "0", "--handshake-timeout", "2"]),
                               capture_output=True, text=True)
            if r.returncode == 0:
                return
            time.sleep(0.5)
        raise SystemExit(f"{self.name} on udp {self.port} did not answer within {deadline} s")

    def cpu_times(self):
        """(user, system) seconds of the server process so far, from /proc/PID/stat."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick

    def jcmd(self, *args):
        jcmd = os.path.join(os.path.dirname(find_java()), "jcmd")
        return subprocess.run([jcmd, str(self.pid)] + list(args), capture_output=True, text=True, timeout=120).stdout

    def heap_used_mib(self, after_gc=False):
        """Java heap in use in MiB (jcmd GC.heap_info, garbage included unless after_gc runs a full GC
        first); None for a server that is not a JVM, NaN when jcmd gives no figure."""
        if not self.server.java:
            return None
        if after_gc:
            self.jcmd("GC.run")
        m = re.search(r"used (\d+)K", self.jcmd("GC.heap_info"))
        return int(m.group(1)) / 1024 if m else float("nan")


# Thread names as /proc shows them (15 characters at most), by what the thread does.
THREAD_KINDS = [
    # The connector's socket reader is "receiver", each connection's threads "receiver-<id>", "sender-<id>".
    ("Kwik sender", r"^sender-"), ("Kwik receiver", r"^receiver-"),
    ("Kwik connector (socket reader, dispatch)", r"^(server (receive|connecto)|receiver$)"),
    ("Kwik loss detection, idle timers", r"^(loss-detection|idle-timer)"), ("Kwik callbacks", r"^callback"),
    ("virtual-thread carriers (stream I/O)", r"^(ForkJoinPool|VirtualThread)"), ("send-stall guard", r"^kwik-send-stal"),
    ("Vert.x", r"^vert\.?x-"), ("GC", r"^(GC Thread|G1 |VM Thread)"), ("JIT", r"^C[12] Compiler"),
    ("Netty QUIC event loops (sockets, quiche, TLS)", r"^netty-quic"), ("tokio runtime", r"^tokio-"),
]


def thread_kind(comm):
    for kind, pattern in THREAD_KINDS:
        if re.search(pattern, comm):
            return kind
    return "other"


class ThreadCpu:
    """CPU time of a process split by thread kind, from /proc/PID/task, over one client run.

    Threads are read every `interval` seconds; a thread that ends between two reads loses what it
    used since the last one, which shows up as the gap between the process's total and the sum.
    """

    def __init__(self, pid, interval=0.25):
        self.pid, self.interval = pid, interval
        self.first, self.last, self.names = {}, {}, {}
        self._stop = threading.Event()
        self._read(initial=True)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _read(self, initial=False):
        tick = os.sysconf("SC_CLK_TCK")
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except FileNotFoundError:
            return
        for tid in tids:
            try:
                with open(f"/proc/{self.pid}/task/{tid}/stat") as f:
                    head, tail = f.read().rsplit(")", 1)
            except (FileNotFoundError, ProcessLookupError):
                continue
            fields = tail.split()
            cpu = (int(fields[11]) + int(fields[12])) / tick
            self.names[tid] = head.split("(", 1)[1]
            self.first.setdefault(tid, cpu if initial else 0.0)
            self.last[tid] = cpu

    def _loop(self):
        while not self._stop.wait(self.interval):
            self._read()

    def stop(self):
        """Seconds of CPU by thread kind since the start."""
        self._stop.set()
        self._thread.join()
        self._read()
        kinds = {}
        for tid, cpu in self.last.items():
            kind = thread_kind(self.names[tid])
            kinds[kind] = kinds.get(kind, 0.0) + cpu - self.first[tid]
        return kinds


def start_all(servers, ctx, client):
    """Starts each (name, Server) and waits until it answers before the next starts (JVMs starting
    together on a small machine slow each other down); if one fails, those started are stopped."""
    running = []
    try:
        for name, server in servers:
            running.append(Running(name, server, ctx))
            running[-1].wait_ready(client)
        return running
    except BaseException:
        stop(*running)
        raise


def stop(*running):
    """SIGTERM (the servers' graceful stop), then a kill for any that does not exit in time."""
    procs = [r.proc if isinstance(r, Running) else r for r in running]
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def stop_on_signals():
    """SIGTERM and SIGHUP unwind like Ctrl-C, so the callers' finally blocks stop the servers."""
    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, raise_interrupt)
    signal.signal(signal.SIGHUP, raise_interrupt)


def check_exists(paths):
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise SystemExit("missing: " + ", ".join(missing) + "\n  the jar: mvn package -DskipTests (or bin/stream-detour once);"
                         " the quinn tools: .ci/run, or G3_DETOUR_CLIENT=/path/to/g3-detour-client and"
                         " DETOUR_ECHO_SERVER=/path/to/detour-echo-server")


def add_variants(catalogue, specs):
    """--variant 'NAME=BASE [-JVMOPT ...] [VAR=VALUE ...]': one more server in catalogue each (A/B of
    a setting); returns their names."""
    for spec in specs:
        name, _, rest = spec.partition("=")
        tokens = rest.split()
        if not name or not tokens or tokens[0] not in catalogue:
            raise SystemExit(f"--variant {spec!r}: expected NAME=BASE [options], BASE one of {', '.join(catalogue)}")
        base = catalogue[tokens[0]]
        catalogue[name] = base.with_variant(f"{base.label} with {' '.join(tokens[1:])}", tokens[1:])
    return [spec.partition("=")[0] for spec in specs]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values):
    """Half the range over the median, in %: how much the rounds disagreed."""
    values = [v for v in values if v is not None]
    m = median(values)
    return 100 * (max(values) - min(values)) / 2 / m if values and m else None


def fmt(v, digits=0, unit=""):
    return "-" if v is None else f"{v:,.{digits}f}{unit}".replace(",", " ")


def clean_up(workdir, keep, failed_runs):
    """Keeps the servers' logs when asked or when a run failed, else removes them; exits 1 if one failed."""
    if keep or failed_runs:
        print(f"servers' logs kept in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(1 if failed_runs else 0)
