#!/usr/bin/env bash
# dns.sh: Tern's authoritative geo-DNS server against gdnsd 3.8, both on
# loopback, serving the same zone (cdn.test) and the same geo map (www.cdn.test
# steered to the nearest of three data centers, located with the test GeoIP
# database). Measures queries per second with dnsperf, plain and with EDNS
# Client Subnet, then how long Tern (and gdnsd) take to move a region's
# clients when its edge dies, and to bring them back. See bench/README.md and
# bench/dns/README.md.
#
#   bench/dns.sh                   # 4 dnsperf runs of 20 s, then failover: about 1.5 minutes
#   DURATION=3 bench/dns.sh        # a quick smoke run
#   THREADS=1 CLIENTS=4 OUTSTANDING=100 bench/dns.sh   # dnsperf -T, -c, -q (these are the defaults)
#   SOCKETS=1 bench/dns.sh          # UDP sockets of Tern and threads of gdnsd (default 2)
#   PERF=1 bench/dns.sh            # also perf-record each server during its runs (bench/out/dns-*/perf-*.data)
#   GOGC=400 bench/dns.sh          # the environment reaches tern
#
# Run as root on Debian 12 (it apt-get installs gdnsd, dnsperf and dnsutils
# when missing) with Go on PATH. All traffic stays on loopback: Tern's DNS on
# 127.0.0.1:5300 (admin :9113), gdnsd on 127.0.0.1:5301, the edges on
# 127.0.{1,2,3}.1:8080 (admin :9100), the origin on 127.0.0.1:9000 (:9099).
# Raw output: bench/out/dns-<time>/.
set -euo pipefail

DURATION=${DURATION:-20}
THREADS=${THREADS:-1}
CLIENTS=${CLIENTS:-4}
OUTSTANDING=${OUTSTANDING:-100}
PERF=${PERF:-0}

TERN_PORT=5300
TERN_ADMIN=127.0.0.1:9113
GDNSD_PORT=5301
# ECS option for dnsperf -E: code 8, family 1 (IPv4), source /24, scope 0,
# address 198.51.100 (in the test database: Ashburn, so us-east).
ECS_OPT=8:00011800c63364

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo" # the topology's paths (testdata/...) are relative to the repository
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$here/out/dns-$stamp"
topology=bench/dns/topology.yaml

die() {
	echo "dns.sh: $*" >&2
	exit 1
}

# --- tools ---------------------------------------------------------------
need=()
command -v gdnsd >/dev/null 2>&1 || need+=(gdnsd)
command -v dnsperf >/dev/null 2>&1 || need+=(dnsperf)
command -v dig >/dev/null 2>&1 || need+=(dnsutils)
command -v curl >/dev/null 2>&1 || need+=(curl)
if ((${#need[@]})); then
	[ "$(id -u)" = 0 ] || die "missing ${need[*]}; run as root or apt-get install -y ${need[*]}"
	echo "installing ${need[*]}..."
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${need[@]}" >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; } ||
		die "apt-get install ${need[*]} failed"
fi
command -v go >/dev/null 2>&1 || die "go is not on PATH"
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null 2>&1; then
	die "PERF=1 needs perf (apt-get install linux-perf)"
fi

# --- ports ---------------------------------------------------------------
tcp_addrs=(127.0.0.1:$TERN_PORT 127.0.0.1:$GDNSD_PORT $TERN_ADMIN 127.0.0.1:9000 127.0.0.1:9099)
for i in 1 2 3; do tcp_addrs+=(127.0.$i.1:8080 127.0.$i.1:9100); done
for addr in "${tcp_addrs[@]}"; do
	if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then
		die "$addr is already in use; stop what listens there first"
	fi
done
if command -v ss >/dev/null 2>&1; then
	for port in $TERN_PORT $GDNSD_PORT; do
		if [ -n "$(ss -Hlun "sport = :$port" 2>/dev/null)" ]; then
			die "UDP port $port is already in use; stop what listens there first"
		fi
	done
fi

# --- processes and cleanup -----------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-dns-bench.XXXXXX")
mkdir -p "$out" "$tmp/data"
pids=()
# shellcheck source=bench/procs.sh
. "$here/procs.sh"
cleanup() {
	stop_pids
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "dns.sh: failed at line $LINENO; logs in $out" >&2' ERR
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }

echo "building tern..."
go build -o "$tmp/tern" ./cmd/tern
cp "$topology" "$out/topology.yaml"
topology="$out/topology.yaml"
# SOCKETS=N: N UDP sockets (Tern's udp_sockets) and N UDP threads (gdnsd's
# udp_threads) on the one listen address; default 2, one per CPU here.
SOCKETS=${SOCKETS:-2}
sed -i "s|^  ttl: 30s # of geo answers|&\n  udp_sockets: $SOCKETS|" "$topology"

# start_tern node: runs one node of the topology in the background; its pid
# is in $started.
start_tern() {
	"$tmp/tern" run --config "$topology" --node "$1" --data-dir "$tmp/data" 2>>"$out/$1.log" &
	started=$!
	pids+=("$started")
}
start_tern origin
declare -A edge_pid
for e in eu-west-1 us-east-1 ap-southeast-1; do
	start_tern "$e"
	edge_pid[$e]=$started
done

# wait_http url what: until url answers 2xx, at most 20 s.
wait_http() {
	local deadline=$(($(now_ms) + 20000))
	until curl -sf -o /dev/null --max-time 1 "$1"; do
		(($(now_ms) < deadline)) || die "$2 does not answer $1 within 20 s; logs in $out"
		sleep 0.1
	done
}
for i in 1 2 3; do wait_http "http://127.0.$i.1:9100/healthz" "edge 127.0.$i.1"; done

start_tern dns-bench
tern_pid=$started

# gdnsd: bench/dns/gdnsd copied to a temp dir, with its run and state dirs
# there and the test GeoIP database in its geoip/.
gd="$tmp/gdnsd"
cp -r bench/dns/gdnsd "$gd"
mkdir -p "$gd/geoip"
cp testdata/geoip/tern-test-city.mmdb "$gd/geoip/"
sed -i "s|@RUN_DIR@|$tmp/gdnsd-run|; s|@STATE_DIR@|$tmp/gdnsd-state|; s|udp_threads => 2|udp_threads => $SOCKETS|" "$gd/config"
cp "$gd/config" "$out/gdnsd.config"
cp "$gd/zones/cdn.test" "$out/gdnsd.zone"
gdnsd -c "$gd" start 2>"$out/gdnsd.log" &
gdnsd_pid=$!
pids+=("$gdnsd_pid")

# Both DNS servers must see every edge up: with edges down Tern answers
# "fail open", a different path.
tern_up() { # how many data centers Tern's dns node has up
	curl -s --max-time 1 "http://$TERN_ADMIN/status" | grep -c '"up": true' || true
}
gdnsd_up() { # how many edges gdnsd has up
	gdnsdctl -c "$gd" states 2>/dev/null | grep -c '"UP"' || true
}
# wait_all_up seconds: until both servers see the 3 data centers up.
wait_all_up() {
	local deadline=$(($(now_ms) + $1 * 1000))
	until [ "$(tern_up)" = 3 ] && [ "$(gdnsd_up)" = 3 ]; do
		if (($(now_ms) >= deadline)); then
			die "after $1 s Tern sees $(tern_up) data centers up and gdnsd $(gdnsd_up) edges, want 3 and 3; logs in $out"
		fi
		sleep 0.2
	done
}
wait_all_up 30
curl -s --max-time 1 "http://$TERN_ADMIN/status" >"$out/tern-status-before.json" || true
gdnsdctl -c "$gd" states >"$out/gdnsd-states-before.json" 2>/dev/null || true

# --- same answers ---------------------------------------------------------
# ask port args...: the status and answer section (with TTLs) of one query.
ask() {
	local port=$1
	shift
	dig @127.0.0.1 -p "$port" +norec +time=1 +tries=2 +noall +comments +answer "$@" |
		awk '/status:/ {sub(/.*status: /, ""); sub(/,.*/, ""); print "status " $0; next} !/^;/ && NF {$1 = $1; print}'
}
checks=(
	"www.cdn.test A +subnet=198.51.100.7/24"
	"www.cdn.test A +subnet=203.0.113.9/24"
	"www.cdn.test A +subnet=192.0.2.1/24"
	"www.cdn.test A"
	"www.cdn.test AAAA"
	"cdn.test SOA"
	"cdn.test NS"
	"cdn.test MX"
	"cdn.test TXT"
	"static.cdn.test A"
	"ns1.cdn.test A"
	"nothing.cdn.test A"
)
expect=(127.0.2.1 127.0.3.1 127.0.1.1)
echo "checking that both servers give the same answers..."
for i in "${!checks[@]}"; do
	# shellcheck disable=SC2086 # the check is words for dig
	t=$(ask $TERN_PORT ${checks[$i]})
	# shellcheck disable=SC2086
	g=$(ask $GDNSD_PORT ${checks[$i]})
	if [ "$t" != "$g" ]; then
		printf 'dns.sh: Tern and gdnsd differ for %s\n--- tern\n%s\n--- gdnsd\n%s\n' "${checks[$i]}" "$t" "$g" >&2
		exit 1
	fi
	if ((i < ${#expect[@]})); then
		got=$(awk '$4 == "A" {print $5}' <<<"$t" | paste -sd,)
		[ "$got" = "${expect[$i]}" ] || die "${checks[$i]}: both answer '$got', want ${expect[$i]}"
	fi
	printf '  %-40s %-8s %s\n' "${checks[$i]}" "$(awk '/^status/ {print $2}' <<<"$t")" \
		"$(grep -v '^status' <<<"$t" | awk '{$1 = $2 = $3 = ""; sub(/^ +/, ""); print}' | paste -sd' ' | cut -c1-70)"
done

# --- dnsperf --------------------------------------------------------------
# Mostly the geo name, with some AAAA (NODATA) and SOA (static) queries.
queries="$tmp/queries.txt"
{
	for _ in $(seq 8); do echo "www.cdn.test A"; done
	echo "www.cdn.test AAAA"
	echo "cdn.test SOA"
} >"$queries"
cp "$queries" "$out/queries.txt"

# cpu_ticks pid: user+system CPU ticks of a process (all its threads) so far.
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat")
	stat=${stat##*) } # fields after the command name; utime, stime are 12, 13
	# shellcheck disable=SC2086
	set -- $stat
	echo $((${12} + ${13}))
}
hz=$(getconf CLK_TCK)

# run_perf server mode: one bounded dnsperf run; output in $out/server-mode.txt
# with the server's CPU time per completed query appended.
run_perf() {
	local srv=$1 mode=$2 port=$GDNSD_PORT pid=$gdnsd_pid c0 c1 perf_pid=
	if [ "$srv" = tern ]; then port=$TERN_PORT pid=$tern_pid; fi
	local args=(-s 127.0.0.1 -p "$port" -d "$queries" -l "$DURATION" -T "$THREADS" -c "$CLIENTS" -q "$OUTSTANDING" -t 2)
	[ "$mode" = ecs ] && args+=(-E "$ECS_OPT")
	if [ "$PERF" = 1 ]; then
		perf record -F 999 -g -p "$pid" -o "$out/perf-$srv-$mode.data" -- sleep "$DURATION" \
			>"$out/perf-$srv-$mode.log" 2>&1 &
		perf_pid=$!
	fi
	c0=$(cpu_ticks "$pid")
	timeout $((DURATION + 30)) dnsperf "${args[@]}" >"$out/$srv-$mode.txt" 2>&1 ||
		die "dnsperf against $srv ($mode) failed: $(tail -3 "$out/$srv-$mode.txt")"
	c1=$(cpu_ticks "$pid")
	[ -n "$perf_pid" ] && wait "$perf_pid" || true
	awk -v t=$((c1 - c0)) -v hz="$hz" '/Queries completed:/ {
		if ($3 > 0) printf "Server CPU per query: %.2fus\n", t / hz * 1e6 / $3 }' \
		"$out/$srv-$mode.txt" >>"$out/$srv-$mode.txt"
}
field() { # file label: the value after "label:" in dnsperf's statistics
	awk -v l="$2:" 'index($0, l) {sub(/.*: */, ""); print $1; exit}' "$1"
}

echo "dnsperf -T $THREADS -c $CLIENTS -q $OUTSTANDING -l $DURATION, per server and mode (plain, then ecs)"
# downs: how many times either server has taken an edge down so far.
downs() {
	echo $(($(grep -c '"msg":"edge down"' "$out/dns-bench.log" || true) + $(grep -c ' to DOWN' "$out/gdnsd.log" || true)))
}
invalid=()
# Alternate which server goes first, so drift on a shared machine does not
# always favour the same one.
for step in tern:plain gdnsd:plain gdnsd:ecs tern:ecs; do
	srv=${step%:*} mode=${step#*:}
	printf '  %-6s %-5s ' "$srv" "$mode"
	downs0=$(downs)
	run_perf "$srv" "$mode"
	printf '%.0f qps\n' "$(field "$out/$srv-$mode.txt" 'Queries per second')"
	# The run measured the path it was meant to only if every edge stayed up
	# throughout (an edge starved of CPU can miss its health checks).
	if [ "$(downs)" != "$downs0" ] || [ "$(tern_up)" != 3 ] || [ "$(gdnsd_up)" != 3 ]; then
		echo "warning: an edge went down during $srv $mode (see dns-bench.log, gdnsd.log); that run is not comparable" >&2
		invalid+=("$srv $mode")
		wait_all_up 15
	fi
	codes=$(grep -A3 'Response codes:' "$out/$srv-$mode.txt" | tr -s ' ' | paste -sd' ')
	case "$codes" in *SERVFAIL* | *FORMERR* | *REFUSED* | *NOTIMP*)
		echo "warning: $srv $mode: unexpected response codes: $codes" >&2 ;;
	esac
done

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
tern_rss=$(rss_kb "$tern_pid")
gdnsd_rss=$(rss_kb "$gdnsd_pid")

# --- failover ------------------------------------------------------------
# answer port: the A records for a client in 198.51.100.0/24 (us-east), comma-separated.
answer() {
	dig @127.0.0.1 -p "$1" www.cdn.test A +subnet=198.51.100.7/24 +norec +time=1 +tries=1 +short 2>/dev/null |
		grep -E '^[0-9.]+$' | paste -sd, || true
}
# watch_change kind: poll both servers every 50 ms for up to 30 s. kind
# "away": until the answer is no longer 127.0.2.1; "back": until it is again.
# Sets tern_ms, tern_ans, gdnsd_ms, gdnsd_ans (ms empty: not within 30 s).
watch_change() {
	local t0 now a deadline
	t0=$(now_ms)
	deadline=$((t0 + 30000))
	tern_ms='' gdnsd_ms='' tern_ans='' gdnsd_ans=''
	while [ -z "$tern_ms" ] || [ -z "$gdnsd_ms" ]; do
		now=$(now_ms)
		((now < deadline)) || break
		if [ -z "$tern_ms" ]; then
			a=$(answer $TERN_PORT)
			if { [ "$1" = away ] && [ -n "$a" ] && [ "$a" != 127.0.2.1 ]; } ||
				{ [ "$1" = back ] && [ "$a" = 127.0.2.1 ]; }; then
				tern_ms=$(($(now_ms) - t0)) tern_ans=$a
			fi
		fi
		if [ -z "$gdnsd_ms" ]; then
			a=$(answer $GDNSD_PORT)
			if { [ "$1" = away ] && [ -n "$a" ] && [ "$a" != 127.0.2.1 ]; } ||
				{ [ "$1" = back ] && [ "$a" = 127.0.2.1 ]; }; then
				gdnsd_ms=$(($(now_ms) - t0)) gdnsd_ans=$a
			fi
		fi
		sleep 0.05
	done
}
fmt_s() { if [ -n "$1" ]; then awk -v ms="$1" 'BEGIN {printf "%.2f s", ms / 1000}'; else echo "not within 30 s"; fi; }

wait_all_up 15
[ "$(answer $TERN_PORT)" = 127.0.2.1 ] || die "before failover Tern answers '$(answer $TERN_PORT)' for us-east, want 127.0.2.1"
[ "$(answer $GDNSD_PORT)" = 127.0.2.1 ] || die "before failover gdnsd answers '$(answer $GDNSD_PORT)' for us-east, want 127.0.2.1"
echo "failover: SIGKILL us-east-1, then query www.cdn.test +subnet=198.51.100.7/24 every 50 ms..."
# Reap it at once, in a block whose stderr hides bash's "Killed" notice.
{ kill -KILL "${edge_pid[us-east-1]}" && wait "${edge_pid[us-east-1]}"; } 2>/dev/null || true
watch_change away
away_tern_ms=$tern_ms away_tern_ans=$tern_ans away_gdnsd_ms=$gdnsd_ms away_gdnsd_ans=$gdnsd_ans
curl -s --max-time 1 "http://$TERN_ADMIN/status" >"$out/tern-status-failed.json" || true

echo "failback: restart us-east-1, until 127.0.2.1 comes back..."
start_tern us-east-1
edge_pid[us-east-1]=$started
watch_change back
back_tern_ms=$tern_ms back_tern_ans=$tern_ans back_gdnsd_ms=$gdnsd_ms back_gdnsd_ans=$gdnsd_ans

# --- summary -------------------------------------------------------------
{
	echo "DNS, UDP on loopback: dnsperf -T $THREADS -c $CLIENTS -q $OUTSTANDING -l $DURATION, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "tern $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo '+changes') ($(go env GOVERSION), GOGC=${GOGC:-default}), $(gdnsd -c "$gd" checkconf 2>&1 | sed -n 's/.*\(gdnsd version [^ ]*\).*/\1/p' | head -1), dnsperf $(dnsperf -h 2>&1 | sed -n 's/^Version *//p' | head -1)"
	echo "UDP sockets (tern) and threads (gdnsd): $SOCKETS each"
	echo "queries: 80% www.cdn.test A, 10% www.cdn.test AAAA, 10% cdn.test SOA; ecs: -E $ECS_OPT (198.51.100.0/24)"
	echo
	printf '%-6s %-5s %10s %12s %10s %10s\n' server mode qps "avg latency" lost "CPU/query"
	for mode in plain ecs; do
		for srv in tern gdnsd; do
			f="$out/$srv-$mode.txt"
			printf '%-6s %-5s %10.0f %9.3f ms %10s %10s\n' "$srv" "$mode" \
				"$(field "$f" 'Queries per second')" \
				"$(awk -v s="$(field "$f" 'Average Latency (s)')" 'BEGIN {print s * 1000}')" \
				"$(field "$f" 'Queries lost')" \
				"$(awk '/^Server CPU per query:/ {print $5}' "$f")"
		done
	done
	echo
	for mode in plain ecs; do
		awk -v m="$mode" -v a="$(field "$out/tern-$mode.txt" 'Queries per second')" \
			-v b="$(field "$out/gdnsd-$mode.txt" 'Queries per second')" \
			'BEGIN {if (b > 0) printf "ratio tern / gdnsd, %-5s %.2f\n", m, a / b}'
	done
	if ((${#invalid[@]})); then
		echo "NOT COMPARABLE (a data center went down during the run): ${invalid[*]}"
	fi
	echo
	echo "RSS after the runs: tern $((tern_rss / 1024)) MiB ($tern_rss kB), gdnsd $((gdnsd_rss / 1024)) MiB ($gdnsd_rss kB)"
	echo
	echo "failover (us-east-1 SIGKILLed; client 198.51.100.7/24; each server polled every 50 ms + a dig):"
	echo "  tern  (checks 1s/timeout 1s, fall 2): $(fmt_s "$away_tern_ms") -> ${away_tern_ans:-?} (target < 5 s)"
	echo "  gdnsd (checks 2s/timeout 1s, down_thresh 2): $(fmt_s "$away_gdnsd_ms") -> ${away_gdnsd_ans:-?}"
	echo "failback (us-east-1 restarted; until 127.0.2.1 again):"
	echo "  tern  (rise 2): $(fmt_s "$back_tern_ms") -> ${back_tern_ans:-?}"
	echo "  gdnsd (up_thresh 2): $(fmt_s "$back_gdnsd_ms") -> ${back_gdnsd_ans:-?}"
	echo
	echo "CPU/query = the server's user+system CPU time (/proc/PID/stat) over the run, per"
	echo "completed query; dnsperf shares the same CPUs, so qps alone understates a server."
} | tee "$out/summary.txt"
echo
echo "raw output: $out"
if [ -z "$away_tern_ms" ] || [ -z "$back_tern_ms" ]; then
	die "Tern did not fail over or back within 30 s"
fi
((${#invalid[@]} == 0)) || die "runs not comparable: ${invalid[*]}"
