#!/usr/bin/env bash
# A lab on one machine: stream-detour nodes behind one QUIC virtual IP, the way operators put
# nodes behind an L4 balancer (LVS, nftables). Linux network namespaces joined by veth pairs
# and a bridge; a router namespace holds the VIP as an nftables DNAT rule that spreads new UDP
# flows over the nodes by a hash (jhash) of the 4-tuple; a client namespace runs the quinn
# client (g3proxy on the wire) against the VIP. Nothing listens in the root namespace and
# nothing in it changes: every address below lives inside the lab's namespaces.
#
#   client ns                 router ns                         node ns (1..3)
#   10.77.0.1 --veth-- 10.77.0.254 | br0 10.77.1.254 --veth-- 10.77.1.<n>  QUIC :2888
#                      VIP 10.77.9.1:2888 -> DNAT              Hazelcast :5701, admin :2889
#
# usage: cluster/vip-lab.sh COMMAND [ARGS]
#   up                 create the namespaces, links, one certificate for all nodes and the
#                      balancer rules (idempotent: an existing lab is kept)
#   down               stop every process in the lab's namespaces, delete them (always succeeds)
#   status             namespaces, nodes (pid, readiness), the balancer's rules and flow counts
#   start-nodes [N..]  start nodes (all by default) with --cluster; waits until each is ready
#                      and sees every running node as a member
#   stop-nodes [N..]   SIGTERM (graceful: running sessions get shutdown.grace), then SIGKILL
#   kill-node N        SIGKILL node N: a crash
#   remove N | add N   take node N out of the balancer's map / put it back (what a health check
#                      does); established flows keep their node (conntrack), new ones avoid it
#   drain N            remove N, then stop it gracefully
#   check              one health-check round: every node whose GET /health/ready answers 200
#                      is in the map, every other node is out; the flows of a node that does
#                      not answer at all are dropped (a dead node's; a draining one keeps them)
#   health-check [S]   a check round every S seconds (default 1) until stopped; a node goes out
#                      after 2 failed rounds and back in after 2 good ones
#   routing MODE       4tuple (default): every new flow by jhash of its 4-tuple; cid: short-header
#                      packets by the node id in their destination connection id (QUIC-LB),
#                      long-header packets by jhash (for the Netty edge; see cluster/README.md)
#   probe-cid ID [COUNT]  send COUNT short-header packets whose connection id names node ID to
#                      the VIP, each a new flow (see flows): checks the cid rule without a node
#                      that issues such ids (the router's conntrack entries of the client's
#                      flows to the VIP are dropped first)
#   rebind             NAT rebinding at the client: every flow from the client namespace to the
#                      VIP gets a new source port from now on (SNAT to a fresh port range, its
#                      conntrack entries dropped), as a home router or carrier NAT does when a
#                      mapping expires; the QUIC connections stay, their packets reach the
#                      balancer as new flows
#   loss PERMILLE      the router drops that share (0..1000) of the QUIC datagrams it forwards,
#                      each way, at random, as a lossy link does (0: none); shows how the
#                      nodes' QUIC stacks recover lost packets
#   send-errors PERMILLE  each node's own firewall drops that share (0..1000) of the QUIC
#                      datagrams it sends, at random, which the kernel reports to the sending
#                      socket as an error (EPERM): a node's stack must take it as a lost datagram
#   admin N PATH [METHOD]  HTTP to node N's admin API from the router namespace; prints the body
#   flows              new UDP flows the balancer sent to each node
#   mapped             the nodes in the balancer's map now
#   client [--node N] ARGS..  the quinn client in the client namespace against the VIP (or
#                      node N directly), verifying the lab's CA, with ARGS added
#                      (e.g. --sessions 96 --bytes 64K)
#   env                the lab's names and addresses, as shell variables
#
# Environment (defaults in brackets):
#   SDLAB_PREFIX [sdlab]      namespace names: <prefix>-router, -client, -node1..N
#   SDLAB_NET [10.77]         first two octets of the lab's addresses
#   SDLAB_NODES [3]           number of nodes
#   SDLAB_PORT [2888]         QUIC port of the VIP and the nodes
#   SDLAB_STATE               certificate, node logs and pids [target/vip-lab/<prefix>]
#   SDLAB_NODE_CMD            how to start a node [bin/stream-detour]; --cluster is added
#   SDLAB_CLUSTER [yes]       no: start nodes without --cluster (single nodes, for comparison)
#   SDLAB_CONF                a configuration file for every node (--conf)
#   SDLAB_NODE_ENV_<N>        extra "KEY=VALUE ..." for node N only
#   SDLAB_ROUTING [4tuple]    balancer mode at up
#   SDLAB_CID_OCTET [1]       cid mode: the octet of the connection id that holds the node id
#   SDLAB_READY_TIMEOUT [180] seconds start-nodes waits for readiness
#   SDLAB_STOP_WAIT [40]      seconds stop-nodes waits after SIGTERM (down: 10) before SIGKILL
#   SDLAB_HTTP_TIMEOUT [10]   seconds an admin request (and a health probe) may take
#   G3_DETOUR_CLIENT          the quinn client [target/g3-detour-client/release/g3-detour-client]
# Every STREAM_DETOUR_* variable of the caller reaches the nodes; the lab sets the addresses,
# ports, member list, certificate and file locations per node.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
P=${SDLAB_PREFIX:-sdlab}
NET=${SDLAB_NET:-10.77}
NODES=${SDLAB_NODES:-3}
PORT=${SDLAB_PORT:-2888}
ADMIN_PORT=2889
MEMBER_PORT=5701
STATE=${SDLAB_STATE:-$root/target/vip-lab/$P}
CID_OCTET=${SDLAB_CID_OCTET:-1}
ROUTER=$P-router
CLIENT=$P-client
VIP=$NET.9.1
TABLE=sdlab
# The hash seed: fixed, so the same 4-tuple always lands on the same node of the same map.
SEED=0x5d7e7001
# The name every node's certificate carries, for g3proxy's tls_name (the quinn client's
# --server-name): rustls as g3proxy uses it verifies DNS names, not IP addresses.
TLS_NAME=stream-detour.lab

node_ns() { echo "$P-node$1"; }
node_addr() { echo "$NET.1.$1"; }
all_nodes() { seq 1 "$NODES"; }
say() { echo "vip-lab: $*" >&2; }
die() { say "$*"; exit 1; }

lab_namespaces() {
  # Only the names this lab creates, never another prefix's.
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${P}-(router|client|node[0-9]+)$" || true
}

require_root() {
  [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces and nftables)"
  command -v ip >/dev/null || die "needs ip (Debian: iproute2)"
  command -v nft >/dev/null || die "needs nft (Debian: nftables)"
}

# --- the balancer ---------------------------------------------------------------------------

active_nodes() {
  if [ -f "$STATE/active" ]; then cat "$STATE/active"; else all_nodes; fi
}

# "0 : goto node<a>, 1 : goto node<b>" for jhash over the nodes in $1.
jhash_vmap() {
  local i=0 n out=""
  for n in $1; do
    out+="${out:+, }$i : goto node$n"; i=$((i + 1))
  done
  echo "$out"
}

# The nat chain for the nodes in $1 (may be empty: then the VIP answers nothing). A nat chain
# sees only the first packet of each flow; conntrack carries the rest to the same node.
prerouting_rules() {
  local nodes=$1 count cid="" n
  count=$(echo "$nodes" | wc -w)
  [ "$count" -gt 0 ] || return 0
  if [ "$(cat "$STATE/routing" 2>/dev/null || echo 4tuple)" = cid ]; then
    # QUIC short header: first bit 0 (header form), the destination connection id right after
    # that byte, so its octet CID_OCTET is payload byte 1 + CID_OCTET; the UDP header is 8
    # bytes: @th bit offset (8 + 1 + CID_OCTET) * 8. Node N issues ids whose octet is N. A miss
    # (an id of no node in the map) falls through to the hash below.
    for n in $nodes; do cid+="${cid:+, }$n : goto node$n"; done
    echo "ip daddr $VIP udp dport $PORT @th,64,1 0 @th,$(((9 + CID_OCTET) * 8)),8 vmap { $cid }"
  fi
  echo "ip daddr $VIP udp dport $PORT jhash ip saddr . udp sport . ip daddr . udp dport mod $count seed $SEED vmap { $(jhash_vmap "$nodes") }"
}

# Replaces the nat chain in one transaction; established flows keep their node (conntrack).
apply_map() {
  local nodes=$1
  echo "$nodes" | tr ' ' '\n' | grep -v '^$' > "$STATE/active.new" || true
  mv "$STATE/active.new" "$STATE/active"
  {
    echo "flush chain ip $TABLE prerouting"
    prerouting_rules "$(active_nodes | tr '\n' ' ')" | sed "s/^/add rule ip $TABLE prerouting /"
  } | ip netns exec "$ROUTER" nft -f -
}

balancer_table() {
  local n
  echo "table ip $TABLE {"
  # One chain per node: counts the flows sent there and rewrites their destination.
  for n in $(all_nodes); do
    echo "  chain node$n { counter dnat to $(node_addr "$n"); }"
  done
  echo "  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }"
  echo "}"
}

# --- up / down ------------------------------------------------------------------------------

is_up() {
  ip netns exec "$ROUTER" nft list table ip "$TABLE" >/dev/null 2>&1 || return 1
  ip netns list | grep -qE "^$CLIENT( |$)" || return 1
  local n; for n in $(all_nodes); do ip netns list | grep -qE "^$(node_ns "$n")( |$)" || return 1; done
}

make_certificate() {
  local dir=$STATE/tls
  [ -f "$dir/node.pem" ] && [ -f "$dir/node.key" ] && [ -f "$dir/ca.pem" ] && return 0
  command -v openssl >/dev/null || die "needs openssl for the lab's certificate"
  mkdir -p "$dir"
  # One CA and one node identity for all nodes: the client verifies the VIP, whichever node answers.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=stream-detour lab CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=stream-detour" \
    -keyout "$dir/node.key" -out "$dir/node.csr" 2>/dev/null
  printf 'subjectAltName=DNS:%s,IP:%s,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
    "$TLS_NAME" "$VIP" > "$dir/node.ext"
  openssl x509 -req -in "$dir/node.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
    -days 30 -extfile "$dir/node.ext" -out "$dir/node.pem" 2>/dev/null
  rm -f "$dir/node.csr" "$dir/node.ext"
}

cmd_up() {
  require_root
  mkdir -p "$STATE"
  if is_up; then
    say "already up ($ROUTER, $CLIENT, $(node_ns 1)..$NODES), VIP $VIP:$PORT"
    return 0
  fi
  cmd_down 2>/dev/null
  mkdir -p "$STATE"
  # Any failure from here on (set -e) leaves nothing half made.
  trap 'say "up failed; removing what was made"; cmd_down' EXIT
  make_certificate
  echo "${SDLAB_ROUTING:-4tuple}" > "$STATE/routing"
  ip netns add "$ROUTER"
  ip netns add "$CLIENT"
  ip -n "$ROUTER" link set lo up
  ip netns exec "$ROUTER" sysctl -qw net.ipv4.ip_forward=1
  ip -n "$ROUTER" link add br0 type bridge
  ip -n "$ROUTER" addr add "$NET.1.254/24" dev br0
  ip -n "$ROUTER" link set br0 up
  local n ns
  for n in $(all_nodes); do
    ns=$(node_ns "$n")
    ip netns add "$ns"
    ip link add lab0 netns "$ns" type veth peer name "node$n" netns "$ROUTER"
    ip -n "$ROUTER" link set "node$n" master br0 up
    ip -n "$ns" addr add "$(node_addr "$n")/24" dev lab0
    ip -n "$ns" link set lab0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" route add default via "$NET.1.254"
  done
  ip link add lab0 netns "$CLIENT" type veth peer name client0 netns "$ROUTER"
  ip -n "$ROUTER" addr add "$NET.0.254/24" dev client0
  ip -n "$ROUTER" link set client0 up
  ip -n "$CLIENT" addr add "$NET.0.1/24" dev lab0
  ip -n "$CLIENT" link set lab0 up
  ip -n "$CLIENT" link set lo up
  # The VIP is outside the client's subnet (else the client would ARP for it): it routes there.
  ip -n "$CLIENT" route add default via "$NET.0.254"
  balancer_table | ip netns exec "$ROUTER" nft -f -
  apply_map "$(all_nodes | tr '\n' ' ')"
  trap - EXIT
  say "up: VIP $VIP:$PORT ($(cat "$STATE/routing")) -> $(for n in $(all_nodes); do printf '%s ' "$(node_addr "$n")"; done)"
  say "certificate for all nodes: $STATE/tls/node.pem (CA $STATE/tls/ca.pem)"
}

cmd_down() {
  set +e
  local ns pids pidfile
  pidfile=$STATE/health-check.pid
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  rm -f "$pidfile"
  for ns in $(lab_namespaces); do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
  done
  # A short grace, then whatever still runs in the lab is killed.
  local waited=0
  while [ $waited -lt "${SDLAB_STOP_WAIT:-10}" ]; do
    pids=""
    for ns in $(lab_namespaces); do pids+=$(ip netns pids "$ns" 2>/dev/null); done
    [ -z "$pids" ] && break
    sleep 1; waited=$((waited + 1))
  done
  for ns in $(lab_namespaces); do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
  done
  for ns in $(lab_namespaces); do
    # The veth pairs and the nftables table go with their namespaces.
    ip netns del "$ns" 2>/dev/null || say "could not delete namespace $ns"
  done
  rm -f "$STATE"/node*/node.pid "$STATE/active" 2>/dev/null
  [ -z "$(lab_namespaces)" ] && say "down: no namespace of $P left"
  set -e
  return 0
}

# --- nodes ----------------------------------------------------------------------------------

node_pid() {
  local f=$STATE/node$1/node.pid
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

node_cmd() {
  if [ -n "${SDLAB_NODE_CMD:-}" ]; then echo "$SDLAB_NODE_CMD"; return; fi
  if [ ! -f "$root/target/stream-detour.jar" ]; then
    say "building target/stream-detour.jar once for all nodes ..."
    (cd "$root" && JAVA_HOME=$("$root/bin/find-java") mvn -q -B package -DskipTests) >&2
  fi
  echo "$root/bin/stream-detour"
}

start_node() {
  local n=$1 cmd=$2 members="" m dir extra cluster=--cluster
  [ "${SDLAB_CLUSTER:-yes}" = no ] && cluster=""
  [ -n "$(node_pid "$n")" ] && { say "node$n already runs (pid $(node_pid "$n"))"; return 0; }
  for m in $(all_nodes); do members+="${members:+,}$(node_addr "$m"):$MEMBER_PORT"; done
  dir=$STATE/node$n
  mkdir -p "$dir"
  extra=SDLAB_NODE_ENV_$n
  # shellcheck disable=SC2086
  (cd "$dir" && exec ip netns exec "$(node_ns "$n")" env \
    STREAM_DETOUR_QUIC__HOST="$(node_addr "$n")" STREAM_DETOUR_QUIC__PORT="$PORT" \
    STREAM_DETOUR_CLUSTER__HOST="$(node_addr "$n")" STREAM_DETOUR_CLUSTER__PORT="$MEMBER_PORT" \
    STREAM_DETOUR_CLUSTER__MEMBERS="$members" \
    STREAM_DETOUR_ADMIN__HOST="$(node_addr "$n")" STREAM_DETOUR_ADMIN__PORT="$ADMIN_PORT" \
    STREAM_DETOUR_TLS__CERTIFICATE="$STATE/tls/node.pem" STREAM_DETOUR_TLS__PRIVATE_KEY="$STATE/tls/node.key" \
    STREAM_DETOUR_TLS__GENERATED_DIR="$dir/run" STREAM_DETOUR_AUDIT__FILE="$dir/sessions.log" \
    STREAM_DETOUR_CAPTURE__DIR="$dir/capture" ${!extra:-} \
    $cmd $cluster ${SDLAB_CONF:+--conf "$SDLAB_CONF"} </dev/null >"$dir/node.log" 2>&1) &
  echo $! > "$dir/node.pid"
  say "node$n starting (pid $!, $(node_addr "$n"), log $dir/node.log)"
}

# Status and body of an HTTP request to node $1's admin API, from the router namespace.
# Prints the body; returns 0 on 2xx, 1 on any other status, 2 when nothing answered.
http() {
  local n=$1 path=$2 method=${3:-GET} auth="" reply status
  [ -n "${STREAM_DETOUR_ADMIN__TOKEN:-}" ] && auth="Authorization: Bearer $STREAM_DETOUR_ADMIN__TOKEN"$'\r\n'
  reply=$(timeout "${SDLAB_HTTP_TIMEOUT:-10}" ip netns exec "$ROUTER" bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 2
    printf "%s %s HTTP/1.0\r\nHost: %s\r\n%s\r\n" "$3" "$4" "$1" "$5" >&3
    cat <&3' _ "$(node_addr "$n")" "$ADMIN_PORT" "$method" "$path" "$auth" 2>/dev/null) || return 2
  # awk reads the whole reply: a reader that quits early would SIGPIPE the printf (pipefail).
  status=$(printf '%s\n' "$reply" | awk 'NR == 1 {print $2}')
  echo "$reply" | tr -d '\r' | sed '1,/^$/d'
  case "$status" in 2??) return 0 ;; "") return 2 ;; *) return 1 ;; esac
}

ready() { http "$1" /health/ready >/dev/null 2>&1; }

# Members node $1 sees, from its readiness answer.
members_seen() {
  http "$1" /health/ready 2>/dev/null | grep -o '"members" *: *[0-9]*' | grep -o '[0-9]*$' | head -n 1 || true
}

# Waits until every node in $1 is ready and sees every running node as a member.
await_ready() {
  local nodes=$1 n deadline running waiting seen
  deadline=$((SECONDS + ${SDLAB_READY_TIMEOUT:-180}))
  while :; do
    running=0
    for n in $(all_nodes); do [ -n "$(node_pid "$n")" ] && running=$((running + 1)); done
    waiting=""
    for n in $nodes; do
      if [ -z "$(node_pid "$n")" ]; then
        tail -n 20 "$STATE/node$n/node.log" >&2
        die "node$n exited while starting (log above: $STATE/node$n/node.log)"
      fi
      # (A node started without --cluster has no member count: it is its own.)
      seen=$(members_seen "$n")
      if ! ready "$n" || [ "${seen:-$running}" != "$running" ]; then waiting+=" node$n"; fi
    done
    [ -z "$waiting" ] && break
    [ $SECONDS -lt $deadline ] || die "not ready within ${SDLAB_READY_TIMEOUT:-180} s:$waiting (logs in $STATE)"
    sleep 1
  done
}

cmd_start_nodes() {
  require_root
  is_up || die "the lab is not up (cluster/vip-lab.sh up)"
  local nodes cmd n first="" rest="" running=0
  nodes=$(echo ${*:-$(all_nodes)})
  for n in $nodes; do valid_node "$n"; done
  cmd=$(node_cmd)
  for n in $(all_nodes); do [ -n "$(node_pid "$n")" ] && running=$((running + 1)); done
  if [ "$running" -eq 0 ]; then
    # One node forms the cluster first; the others then join it rather than racing to form
    # clusters of their own (which Hazelcast would merge only minutes later).
    first=${nodes%% *}
    rest=${nodes#"$first"}
    start_node "$first" "$cmd"
    await_ready "$first"
  else
    rest=$nodes
  fi
  for n in $rest; do start_node "$n" "$cmd"; done
  await_ready "$nodes"
  say "ready: $(for n in $nodes; do printf 'node%s ' "$n"; done)($(members_seen "${nodes%% *}") member(s))"
}

cmd_stop_nodes() {
  local nodes n pid waited
  nodes=$(echo ${*:-$(all_nodes)})
  for n in $nodes; do
    pid=$(node_pid "$n") || true
    [ -n "$pid" ] && kill -TERM "$pid" && say "node$n: SIGTERM (pid $pid)"
  done
  for n in $nodes; do
    pid=$(node_pid "$n") || true
    waited=0
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $waited -lt "${SDLAB_STOP_WAIT:-40}" ]; do
      sleep 1; waited=$((waited + 1))
    done
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" && say "node$n: SIGKILL after ${waited}s"
    rm -f "$STATE/node$n/node.pid"
  done
  return 0
}

cmd_kill_node() {
  local n=${1:?node number} pid
  pid=$(node_pid "$n") || die "node$n does not run"
  kill -KILL "$pid"
  say "node$n killed (SIGKILL, pid $pid)"
}

# --- balancer commands ----------------------------------------------------------------------

valid_node() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$NODES" ] || die "no node '$1' (1..$NODES)"; }

cmd_remove() {
  local n=${1:?node number}; valid_node "$n"
  apply_map "$(active_nodes | grep -vx "$n" | tr '\n' ' ')"
  say "node$n out of the map; in: $(active_nodes | tr '\n' ' ')"
}

cmd_add() {
  local n=${1:?node number}; valid_node "$n"
  apply_map "$( (active_nodes; echo "$n") | sort -un | tr '\n' ' ')"
  say "node$n in the map; in: $(active_nodes | tr '\n' ' ')"
}

cmd_drain() {
  cmd_remove "$1"
  cmd_stop_nodes "$1"
}

# 0 when node $1 is ready, 1 when it answers "not ready" (draining, not a member), 2 when its
# admin port does not answer at all (dead).
readiness() {
  local rc=0
  http "$1" /health/ready >/dev/null 2>&1 || rc=$?
  echo "$rc"
}

# Drops the router's flows to node $1, a node that does not answer at all: a new flow that
# happens to reuse one of their 4-tuples must not be sent to it (what IPVS's expire_nodest_conn
# does). A node that answers "not ready" (draining) keeps its flows.
forget_flows() {
  local n=$1
  command -v conntrack >/dev/null || { say "node$n: conntrack missing, its flows stay until they expire"; return 0; }
  ip netns exec "$ROUTER" conntrack -D -p udp --reply-src "$(node_addr "$n")" >/dev/null 2>&1 || true
  say "node$n does not answer: its flows forgotten"
}

cmd_check() {
  local n rc good="" dead=""
  for n in $(all_nodes); do
    rc=$(readiness "$n")
    case "$rc" in 0) good+="$n " ;; 2) dead+="$n " ;; esac
  done
  if [ "$good" != "$(active_nodes | tr '\n' ' ')" ]; then
    apply_map "$good"
    say "check: in the map now: ${good:-none}"
    for n in $dead; do forget_flows "$n"; done
  fi
}

cmd_health_check() {
  local interval=${1:-1} n ok rc
  declare -A fails=() passes=()
  echo $$ > "$STATE/health-check.pid"
  say "health-check every ${interval}s (out after 2 failed rounds, in after 2 good ones)"
  while :; do
    for n in $(all_nodes); do
      rc=$(readiness "$n")
      if [ "$rc" -eq 0 ]; then passes[$n]=$(( ${passes[$n]:-0} + 1 )); fails[$n]=0
      else fails[$n]=$(( ${fails[$n]:-0} + 1 )); passes[$n]=0; fi
      ok=$(active_nodes | grep -cx "$n" || true)
      if [ "$ok" -eq 1 ] && [ "${fails[$n]}" -ge 2 ]; then
        cmd_remove "$n"
        [ "$rc" -ne 2 ] || forget_flows "$n"
      elif [ "$ok" -eq 0 ] && [ "${passes[$n]}" -ge 2 ]; then cmd_add "$n"; fi
    done
    sleep "$interval"
  done
}

cmd_routing() {
  case "${1:-}" in 4tuple|cid) ;; *) die "routing: 4tuple or cid" ;; esac
  echo "$1" > "$STATE/routing"
  apply_map "$(active_nodes | tr '\n' ' ')"
  say "routing: $1"
}

# COUNT QUIC short-header datagrams from the client namespace to the VIP, each from a new source
# port (a new flow), whose destination connection id carries OCTET at CID_OCTET: which node
# they reach (flows) shows how the cid rule routes. Nothing answers them; nodes drop them.
cmd_probe_cid() {
  local octet=${1:?node id octet} count=${2:-1} cid="" i
  for i in $(seq 0 7); do
    if [ "$i" -eq "$CID_OCTET" ]; then cid+=$(printf '\\x%02x' "$octet"); else cid+='\x5a'; fi
  done
  # A probe whose random source port an earlier flow used (its conntrack entry lives up to two
  # minutes) would follow that flow to its node and count nowhere: the router forgets the
  # client's flows to the VIP first. Live connections of the client then take the balancer's
  # rules again with their next packet.
  command -v conntrack >/dev/null || die "probe-cid needs conntrack (Debian: conntrack)"
  ip netns exec "$ROUTER" conntrack -D -p udp --orig-src "$NET.0.1" --orig-dst "$VIP" --dport "$PORT" >/dev/null 2>&1 || true
  ip netns exec "$CLIENT" bash -c '
    for i in $(seq 1 "$3"); do printf "\x40$4 0123456789abcdef" > "/dev/udp/$1/$2"; done' _ "$VIP" "$PORT" "$count" "$cid"
}

# NAT rebinding in the client namespace: from now on the client's packets to the VIP leave with
# a source port from a range no earlier rebind used, and the conntrack entries of its current
# flows are dropped so that the next packet of each takes the new mapping. The client's sockets
# do not change: only the balancer, and the node, see a new 4-tuple.
cmd_rebind() {
  local generation low
  command -v conntrack >/dev/null || die "rebind needs conntrack (Debian: conntrack)"
  generation=$(($(cat "$STATE/rebinds" 2>/dev/null || echo 0) + 1))
  echo "$generation" > "$STATE/rebinds"
  low=$((20000 + (generation % 40) * 1000))
  {
    echo "table ip $TABLE-nat"
    echo "delete table ip $TABLE-nat"
    echo "table ip $TABLE-nat {"
    echo "  chain postrouting { type nat hook postrouting priority srcnat; policy accept;"
    echo "    ip daddr $VIP udp dport $PORT snat to $NET.0.1:$low-$((low + 999)); }"
    echo "}"
  } | ip netns exec "$CLIENT" nft -f -
  ip netns exec "$CLIENT" conntrack -D -p udp --orig-dst "$VIP" --dport "$PORT" >/dev/null 2>&1 || true
  say "rebind: client flows to the VIP now leave from ports $low-$((low + 999))"
}

# Random loss at the router, both ways, on the QUIC port only (admin and Hazelcast traffic keep
# their packets): in the forward hook, after the balancer's DNAT, so it hits every node alike.
cmd_loss() {
  local permille=${1:?loss PERMILLE (0..1000)}
  [[ "$permille" =~ ^[0-9]+$ ]] && [ "$permille" -le 1000 ] || die "loss: a whole number of per mille, 0..1000"
  {
    echo "table inet $TABLE-loss"
    echo "delete table inet $TABLE-loss"
    if [ "$permille" -gt 0 ]; then
      echo "table inet $TABLE-loss {"
      echo "  chain forward { type filter hook forward priority filter; policy accept;"
      echo "    udp dport $PORT numgen random mod 1000 < $permille counter drop"
      echo "    udp sport $PORT numgen random mod 1000 < $permille counter drop; }"
      echo "}"
    fi
  } | ip netns exec "$ROUTER" nft -f -
  say "loss: $permille per mille of the QUIC datagrams each way"
}

# Drops in each node's output hook: unlike loss on the way, the sender's sendto fails (EPERM).
cmd_send_errors() {
  local permille=${1:?send-errors PERMILLE (0..1000)} n
  [[ "$permille" =~ ^[0-9]+$ ]] && [ "$permille" -le 1000 ] || die "send-errors: a whole number of per mille, 0..1000"
  for n in $(all_nodes); do
    {
      echo "table inet $TABLE-senderr"
      echo "delete table inet $TABLE-senderr"
      if [ "$permille" -gt 0 ]; then
        echo "table inet $TABLE-senderr {"
        echo "  chain output { type filter hook output priority filter; policy accept;"
        echo "    udp sport $PORT numgen random mod 1000 < $permille counter drop; }"
        echo "}"
      fi
    } | ip netns exec "$(node_ns "$n")" nft -f -
  done
  say "send-errors: $permille per mille of the nodes' QUIC sends fail"
}

# The nodes the hash rule in force sends new flows to.
cmd_mapped() {
  ip netns exec "$ROUTER" nft list chain ip "$TABLE" prerouting | grep jhash | grep -o 'goto node[0-9]*' \
    | sed 's/goto node//' | tr '\n' ' '
  echo
}

cmd_flows() {
  local n count
  for n in $(all_nodes); do
    count=$(ip netns exec "$ROUTER" nft list chain ip "$TABLE" "node$n" | grep -o 'packets [0-9]*' | awk '{print $2}')
    echo "node$n ${count:-0}"
  done
}

cmd_status() {
  echo "lab $P: VIP $VIP:$PORT, state $STATE"
  echo "namespaces: $(lab_namespaces | tr '\n' ' ')"
  is_up || { echo "not up"; return 0; }
  local n pid
  for n in $(all_nodes); do
    pid=$(node_pid "$n") || true
    if [ -z "$pid" ]; then echo "node$n $(node_addr "$n"): not running"
    elif ready "$n"; then echo "node$n $(node_addr "$n"): pid $pid, ready, sees $(members_seen "$n") member(s)"
    else echo "node$n $(node_addr "$n"): pid $pid, not ready"; fi
  done
  echo "in the map: $(cmd_mapped)($(cat "$STATE/routing"))"
  echo "new flows per node:"; cmd_flows | sed 's/^/  /'
  ip netns exec "$ROUTER" nft list chain ip "$TABLE" prerouting | sed 's/^/  /'
}

cmd_admin() {
  local n=${1:?node number} path=${2:?path}; valid_node "$n"
  http "$n" "$path" "${3:-GET}"
}

cmd_client() {
  local client=${G3_DETOUR_CLIENT:-$root/target/g3-detour-client/release/g3-detour-client} target=$VIP:$PORT
  [ -x "$client" ] || die "no quinn client at $client (.ci/run builds it; or set G3_DETOUR_CLIENT)"
  if [ "${1:-}" = --node ]; then
    valid_node "${2:-}"; target=$(node_addr "$2"):$PORT; shift 2
  fi
  exec ip netns exec "$CLIENT" "$client" --server "$target" --ca-cert "$STATE/tls/ca.pem" \
    --server-name "$TLS_NAME" "$@"
}

cmd_env() {
  echo "SDLAB_ROUTER=$ROUTER"
  echo "SDLAB_CLIENT=$CLIENT"
  echo "SDLAB_VIP=$VIP:$PORT"
  echo "SDLAB_CA=$STATE/tls/ca.pem"
  echo "SDLAB_TLS_NAME=$TLS_NAME"
  local n; for n in $(all_nodes); do echo "SDLAB_NODE$n=$(node_ns "$n") $(node_addr "$n")"; done
}

command=${1:-}
shift || true
case "$command" in
  up) cmd_up ;;
  down) require_root; cmd_down ;;
  status) cmd_status ;;
  start-nodes) cmd_start_nodes "$@" ;;
  stop-nodes) cmd_stop_nodes "$@" ;;
  kill-node) cmd_kill_node "$@" ;;
  remove) cmd_remove "$@" ;;
  add) cmd_add "$@" ;;
  drain) cmd_drain "$@" ;;
  check) cmd_check ;;
  health-check) cmd_health_check "$@" ;;
  routing) cmd_routing "$@" ;;
  admin) cmd_admin "$@" ;;
  flows) cmd_flows ;;
  mapped) cmd_mapped ;;
  probe-cid) cmd_probe_cid "$@" ;;
  rebind) cmd_rebind ;;
  loss) cmd_loss "$@" ;;
  send-errors) cmd_send_errors "$@" ;;
  client) cmd_client "$@" ;;
  env) cmd_env ;;
  *) sed -n '/^# usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 64 ;;
esac
