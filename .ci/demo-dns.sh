#!/usr/bin/env bash
# End-to-end: the geo-DNS lines of the README against the demo topology's
# nodes run as separate `tern run` processes, queried with dig: answers by
# client subnet, a drain through the admin API, and regional failover when
# the us-east edge process is killed (and failback when it starts again).
# Needs dig (dnsutils) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "demo-dns: $*" >&2
	for f in "$work"/*.log; do echo "--- $f" >&2; tail -5 "$f" >&2; done
	exit 1
}

go build -o "$work/tern" ./cmd/tern
start() {
	"$work/tern" run --config configs/demo.yaml --node "$1" --data-dir "$work/data" 2>"$work/$1.log" &
	pids+=($!)
	last=$!
}
start origin
start eu-west-1
start us-east-1
us_pid=$last
start ap-southeast-1
start dns-1
for _ in $(seq 1 100); do
	curl -fsS http://127.0.0.1:9103/readyz >/dev/null 2>&1 && break
	sleep 0.1
done

ask() { dig @127.0.0.1 -p 8053 www.cdn.test +subnet="$1" +short +tries=1 +time=1 | head -1; }
expect() {
	local got
	got="$(ask "$1")"
	[ "$got" = "$2" ] || fail "$1: got '$got', want '$2'"
	echo "ok: www.cdn.test from $1 -> $got"
}
# until subnet's answer is want, at most $3 seconds; prints the time taken
wait_answer() {
	local start end
	start=$(date +%s%N)
	end=$((start + $3 * 1000000000))
	while [ "$(ask "$1")" != "$2" ]; do
		[ "$(date +%s%N)" -lt "$end" ] || fail "$1 did not answer $2 within $3 s"
		sleep 0.05
	done
	echo "$(((($(date +%s%N) - start) / 1000000))) ms"
}

# every edge checked and usable: a dns node that starts before its edges
# sees them down first (and answers fail open until they are up)
for _ in $(seq 1 100); do
	[ "$(curl -fsS http://127.0.0.1:9103/status | grep -c '"usable": true')" = 3 ] && break
	sleep 0.1
done
wait_answer 198.51.100.7/24 127.0.2.1 10 >/dev/null
expect 198.51.100.7/24 127.0.2.1
expect 203.0.113.9/24 127.0.3.1
expect 192.0.2.1/24 127.0.1.1
dig @127.0.0.1 -p 8053 nope.cdn.test | grep -q 'status: NXDOMAIN' || fail "no NXDOMAIN"

# Drains need the admin token, created in the data directory (admin.token_file).
auth="Authorization: Bearer $(cat "$work/data/admin-token")"
code="$(curl -sS -o /dev/null -w '%{http_code}' -X POST 'http://127.0.0.1:9103/drain?datacenter=us-east')"
[ "$code" = 401 ] || fail "a drain without the token got $code, want 401"
curl -fsS -X POST -H "$auth" 'http://127.0.0.1:9103/drain?datacenter=us-east' >/dev/null
expect 198.51.100.7/24 127.0.1.1
curl -fsS http://127.0.0.1:9103/status | grep -q '"drained": true' || fail "status does not show the drain"
curl -fsS -X POST -H "$auth" 'http://127.0.0.1:9103/undrain?datacenter=us-east' >/dev/null
expect 198.51.100.7/24 127.0.2.1

kill -9 "$us_pid"
echo "failover: us-east-1 killed; eu-west answers after $(wait_answer 198.51.100.7/24 127.0.1.1 5)"
start us-east-1
echo "failback: us-east-1 started; us-east answers after $(wait_answer 198.51.100.7/24 127.0.2.1 10)"
