#!/usr/bin/env bash
# sidebyside.sh: cache-hit throughput and CPU per request of Tern (memory
# tier and disk tier), nginx proxy_cache, Varnish (malloc) and a bare Go
# server, over HTTP/1.1 (wrk), HTTP/2 over TLS (h2load) and HTTP/3
# (bench/h3load), for 1 KiB, 100 KiB and 1 MiB objects, all on loopback in
# front of the same origin. Writes a Markdown table to bench/out/sidebyside.md.
# See bench/README.md.
#
#   bench/sidebyside.sh                        # as root on Debian 12; defaults: about 20 minutes
#   DURATION=2s ROUNDS=1 SIZES=1KiB PROTOCOLS=h1 bench/sidebyside.sh   # a smoke run
#   SERVERS="tern-mem nginx" bench/sidebyside.sh
#   UPDATE_README=1 bench/sidebyside.sh        # also put the table in README.md
#
# Knobs: DURATION (10s, per measured run), WARMUP (2s, per server and cell,
# before round 1), ROUNDS (3; the table shows the median), SIZES (1KiB 100KiB
# 1MiB), PROTOCOLS (h1 h2 h3), SERVERS (tern-mem tern-disk nginx varnish
# bare), CONNS (32: wrk connections; h2load and h3load open CONNS/STREAMS
# connections with STREAMS (8) requests in flight on each), SERVER_CPU (0) and
# CLIENT_CPU (1): the cores the servers and the load client are pinned to.
# GOGC, GOMAXPROCS and the like reach tern and bare from the environment.
#
# It apt-get installs nginx, varnish, wrk, nghttp2-client (h2load), curl, iproute2 and
# openssl when missing (as root), needs Go on PATH, and builds ./cmd/tern,
# bench/bare and bench/h3load. Every port is on 127.0.0.1, 18000-18099 and
# 18441-18444 (see below); it fails if one is taken. Everything it starts is
# stopped on exit. Raw output: bench/out/sidebyside-<time>/.
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-1KiB 100KiB 1MiB}
PROTOCOLS=${PROTOCOLS:-h1 h2 h3}
SERVERS=${SERVERS:-tern-mem tern-disk nginx varnish bare}
CONNS=${CONNS:-32}
STREAMS=${STREAMS:-8}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
UPDATE_README=${UPDATE_README:-0}

ORIGIN=127.0.0.1:18000    # bench/bare as the origin, counting its requests
TERN_H1=127.0.0.1:18080   # one Tern edge: site "mem" (memory tier) and "disk" (disk tier)
TERN_TLS=127.0.0.1:18443  # TCP (h1, h2) and UDP (h3)
TERN_ADMIN=127.0.0.1:18090
NGINX_H1=127.0.0.1:18081
NGINX_TLS=127.0.0.1:18441
VARNISH_H1=127.0.0.1:18082
BARE_H1=127.0.0.1:18084
BARE_TLS=127.0.0.1:18444  # TCP (h1, h2) and UDP (h3)
HOST=bench.test           # nginx, varnish, bare
TERN_MEM_HOST=mem.bench.test
TERN_DISK_HOST=disk.bench.test

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$here/out/sidebyside-$stamp"
t_start=$(date +%s)

die() {
	echo "sidebyside.sh: $*" >&2
	exit 1
}

# --- tools ---------------------------------------------------------------
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v varnishd >/dev/null 2>&1 || need+=(varnish)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
command -v ss >/dev/null 2>&1 || need+=(iproute2) # the UDP port check
if ((${#need[@]})); then
	[ "$(id -u)" = 0 ] || die "missing ${need[*]}; run as root or apt-get install -y ${need[*]}"
	echo "installing ${need[*]}..."
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "${need[@]}" >/dev/null ||
		{ apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; } ||
		die "apt-get install ${need[*]} failed"
fi
command -v go >/dev/null 2>&1 || die "go is not on PATH"
if (($(nproc) < 2)); then
	die "needs 2 CPUs at least (the servers on CPU $SERVER_CPU, the load client on CPU $CLIENT_CPU); this machine has $(nproc)"
fi

# --- ports ---------------------------------------------------------------
for addr in $ORIGIN $TERN_H1 $TERN_TLS $TERN_ADMIN $NGINX_H1 $NGINX_TLS $VARNISH_H1 $BARE_H1 $BARE_TLS; do
	if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then
		die "$addr (TCP) is already in use; stop what listens there first"
	fi
done
if command -v ss >/dev/null 2>&1; then
	for addr in $TERN_TLS $BARE_TLS; do
		if [ -n "$(ss -Hlun "sport = :${addr#*:}" 2>/dev/null)" ]; then
			die "$addr (UDP) is already in use; stop what listens there first"
		fi
	done
fi

# --- processes and cleanup -----------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-sbs.XXXXXX")
chmod 755 "$tmp" # varnishd's child runs as the varnish user
mkdir -p "$out"
pids=()
# shellcheck source=bench/procs.sh
. "$here/procs.sh"
cleanup() {
	stop_pids
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "sidebyside.sh: failed at line $LINENO; logs in $out" >&2' ERR
trap 'exit 130' INT TERM

# The servers start as "taskset ... server &" (not through a function, which
# would fork a subshell), so $! is the server's own pid.
cli_pin() { taskset -c "$CLIENT_CPU" "$@"; }

echo "building tern, bare, h3load..."
(cd "$repo" && go build -o "$tmp/tern" ./cmd/tern && go build -o "$tmp/bare" ./bench/bare &&
	go build -o "$tmp/h3load" ./bench/h3load)

size_bytes() { # 1KiB -> 1024
	case "$1" in
	*KiB) echo $((${1%KiB} * 1024)) ;;
	*MiB) echo $((${1%MiB} * 1024 * 1024)) ;;
	*) echo "$1" ;;
	esac
}
sizes_csv=$(echo $SIZES | tr ' ' ,)
for s in $SIZES; do
	case "$s" in [0-9]*KiB | [0-9]*MiB) ;; *) die "SIZES: $s is not like 1KiB or 1MiB" ;; esac
done

# One self-signed certificate for every TLS server (the load clients do not verify it).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" -subj "/CN=$HOST" \
	-addext "subjectAltName=DNS:$HOST,DNS:$TERN_MEM_HOST,DNS:$TERN_DISK_HOST,IP:127.0.0.1" 2>/dev/null ||
	die "openssl could not make a certificate"
chmod 644 "$tmp/key.pem"

cat >"$tmp/tern.yaml" <<EOF
# Generated by bench/sidebyside.sh: one edge in front of bench/bare as the
# origin, no shield; the site "mem" is stored only in memory, "disk" only on
# disk (so its hits are read from disk files, through the page cache).
sites:
  - name: mem
    hosts: [$TERN_MEM_HOST]
    origin: http://$ORIGIN
    tls_cert: $tmp/cert.pem
    tls_key: $tmp/key.pem
    cache:
      tier: memory
  - name: disk
    hosts: [$TERN_DISK_HOST]
    origin: http://$ORIGIN
    tls_cert: $tmp/cert.pem
    tls_key: $tmp/key.pem
    cache:
      tier: disk
datacenters:
  - name: bench
    lat: 0
    lon: 0
    edges:
      - name: edge-1
        listen: $TERN_H1
        tls_listen: $TERN_TLS
        admin: $TERN_ADMIN
tls:
  mode: files
cache:
  memory: 64MiB
  disk: 256MiB
EOF

# nginx as usually tuned for a cache, one worker for its one core; no
# tcp_nopush (with sendfile on loopback it holds the last segment of a
# response for the 40 ms delayed-ACK timer).
mkdir -p "$tmp/nginx/cache"
user_line=""
if [ "$(id -u)" = 0 ]; then user_line="user root;"; fi
cat >"$tmp/nginx/nginx.conf" <<EOF
$user_line
daemon off;
master_process on;
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy_temp;
    fastcgi_temp_path $tmp/nginx/fastcgi_temp;
    uwsgi_temp_path $tmp/nginx/uwsgi_temp;
    scgi_temp_path $tmp/nginx/scgi_temp;
    proxy_cache_path $tmp/nginx/cache levels=1:2 keys_zone=bench:10m max_size=256m inactive=60m use_temp_path=off;
    upstream origin {
        server $ORIGIN;
        keepalive 16;
    }
    server {
        listen $NGINX_H1;
        listen $NGINX_TLS ssl http2;
        server_name $HOST;
        ssl_certificate $tmp/cert.pem;
        ssl_certificate_key $tmp/key.pem;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_cache bench;
            proxy_cache_valid 200 10m;
            add_header X-Cache \$upstream_cache_status;
        }
    }
}
EOF

mkdir -p "$tmp/varnish"
cat >"$tmp/varnish/bench.vcl" <<EOF
vcl 4.1;
backend origin { .host = "${ORIGIN%:*}"; .port = "${ORIGIN#*:}"; }
sub vcl_deliver {
    if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
EOF
cp "$tmp/tern.yaml" "$tmp/nginx/nginx.conf" "$tmp/varnish/bench.vcl" "$out/"

# --- servers -------------------------------------------------------------
has_server() { [[ " $SERVERS " == *" $1 "* ]]; }
for s in $SERVERS; do
	case "$s" in tern-mem | tern-disk | nginx | varnish | bare) ;; *) die "SERVERS: unknown $s" ;; esac
done
for p in $PROTOCOLS; do
	case "$p" in h1 | h2 | h3) ;; *) die "PROTOCOLS: unknown $p" ;; esac
done

# The origin is not pinned: it is idle during measured runs (they are pure hits).
"$tmp/bare" -http "$ORIGIN" -sizes "$sizes_csv" >"$out/origin.log" 2>&1 &
pids+=($!)
declare -A pid_of
if has_server tern-mem || has_server tern-disk; then
	taskset -c "$SERVER_CPU" "$tmp/tern" run --config "$tmp/tern.yaml" --node edge-1 --data-dir "$tmp/tern-data" \
		>"$out/tern.log" 2>&1 &
	pid_of[tern-mem]=$! pid_of[tern-disk]=$!
	pids+=($!)
fi
if has_server nginx; then
	taskset -c "$SERVER_CPU" nginx -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" >"$out/nginx.stderr" 2>&1 &
	pid_of[nginx]=$!
	pids+=($!)
fi
if has_server varnish; then
	taskset -c "$SERVER_CPU" varnishd -F -n "$tmp/varnish/work" -f "$tmp/varnish/bench.vcl" -a "$VARNISH_H1" -T none \
		-s malloc,256m >"$out/varnish.log" 2>&1 &
	pid_of[varnish]=$!
	pids+=($!)
fi
if has_server bare; then
	taskset -c "$SERVER_CPU" "$tmp/bare" -http "$BARE_H1" -https "$BARE_TLS" -cert "$tmp/cert.pem" -key "$tmp/key.pem" \
		-sizes "$sizes_csv" >"$out/bare.log" 2>&1 &
	pid_of[bare]=$!
	pids+=($!)
fi

now_ms() { date +%s%3N; }
wait_up() { # addr what
	local deadline=$(($(now_ms) + 20000))
	until curl -s -o /dev/null --max-time 1 "http://$1/"; do
		(($(now_ms) < deadline)) || die "$2 does not answer on $1 within 20 s; logs in $out"
		sleep 0.1
	done
}
wait_up "$ORIGIN" origin
has_server tern-mem || has_server tern-disk && wait_up "$TERN_H1" tern
has_server nginx && wait_up "$NGINX_H1" nginx
has_server varnish && wait_up "$VARNISH_H1" varnish
has_server bare && wait_up "$BARE_H1" bare

# h1_addr, tls_addr, host_of, hit_header server: where and how to reach it.
h1_addr() {
	case "$1" in tern-*) echo $TERN_H1 ;; nginx) echo $NGINX_H1 ;; varnish) echo $VARNISH_H1 ;; bare) echo $BARE_H1 ;; esac
}
tls_addr() {
	case "$1" in tern-*) echo $TERN_TLS ;; nginx) echo $NGINX_TLS ;; bare) echo $BARE_TLS ;; *) echo "" ;; esac
}
host_of() {
	case "$1" in tern-mem) echo $TERN_MEM_HOST ;; tern-disk) echo $TERN_DISK_HOST ;; *) echo $HOST ;; esac
}
hit_header() { # the response field saying hit, and the marker in it
	case "$1" in tern-*) echo "Cache-Status hit" ;; nginx | varnish) echo "X-Cache HIT" ;; *) echo "" ;; esac
}
# serves server proto: whether the server takes part in that protocol.
serves() {
	case "$2" in
	h1) return 0 ;;
	h2) [ "$1" != varnish ] ;;
	h3) [[ "$1" == tern-* || "$1" == bare ]] ;;
	esac
}

# --- warm the caches and check the bodies ------------------------------------
origin_count() { curl -sf --max-time 2 "http://$ORIGIN/count"; }
# warm server size tls: fetch (over h1, or with tls over h2) until a 200 of
# the size that says hit. Tern and nginx key on the scheme, so the https
# objects (h2 and h3) are warmed apart from the http ones.
warm() {
	local srv=$1 s=$2 tls=$3 hname marker want got ok= host url
	read -r hname marker <<<"$(hit_header "$srv")" || true
	want=$(size_bytes "$s")
	host=$(host_of "$srv")
	local args=(-s -o /dev/null -D "$tmp/h" --max-time 5 -w '%{http_code} %{size_download}')
	if [ -n "$tls" ]; then
		args+=(-k --http2 --connect-to "$host:443:$(tls_addr "$srv")")
		url="https://$host/$s.bin"
	else
		args+=(-H "Host: $host")
		url="http://$(h1_addr "$srv")/$s.bin"
	fi
	for _ in $(seq 50); do
		got=$(curl "${args[@]}" "$url" || true)
		if [ "$got" = "200 $want" ] && { [ -z "$hname" ] || tr -d '\r' <"$tmp/h" |
			grep -i "^$hname:" | grep -qi "$marker"; }; then
			ok=1
			break
		fi
		sleep 0.1
	done
	cp "$tmp/h" "$out/warm-$srv-$s${tls:+-tls}.txt"
	[ -n "$ok" ] || die "$srv $url${tls:+ (h2)} never became a 200 hit of $want bytes (last: $got; headers in $out/warm-$srv-$s${tls:+-tls}.txt)"
	if [ -n "$tls" ] && ! grep -q '^HTTP/2 ' "$tmp/h"; then
		die "$srv $url: not HTTP/2 (headers in $out/warm-$srv-$s-tls.txt)"
	fi
}
echo "warming the caches..."
for srv in $SERVERS; do
	for s in $SIZES; do
		warm "$srv" "$s" ""
		if [ -n "$(tls_addr "$srv")" ] && [[ " $PROTOCOLS " == *" h2 "* || " $PROTOCOLS " == *" h3 "* ]]; then
			warm "$srv" "$s" tls
		fi
	done
done

# --- measuring -------------------------------------------------------------
hz=$(getconf CLK_TCK)
# tree_pids pid: the process and all its descendants (nginx's workers,
# varnishd's child).
tree_pids() {
	local all=" $1 " grew=1 f pid ppid rest
	while ((grew)); do
		grew=0
		for f in /proc/[0-9]*/stat; do
			read -r pid _ rest <"$f" 2>/dev/null || continue
			rest=${rest##*) } # fields after the command name (which may hold spaces)
			# shellcheck disable=SC2086
			set -- $rest
			ppid=$2
			if [[ "$all" == *" $ppid "* && "$all" != *" $pid "* ]]; then
				all+="$pid "
				grew=1
			fi
		done
	done
	echo $all
}
# cpu_ticks pid...: user+system ticks so far, all threads of these processes.
cpu_ticks() {
	local pid sum=0 stat
	for pid in "$@"; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		stat=${stat##*) }
		# shellcheck disable=SC2086
		set -- $stat
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}
dur_s() { # 10s, 1m, 500ms -> seconds for h2load -D (whole seconds, at least 1)
	case "$1" in
	*ms) echo $(((${1%ms} + 999) / 1000)) ;;
	*s) echo "${1%s}" ;;
	*m) echo $((${1%m} * 60)) ;;
	*) echo "$1" ;;
	esac
}
# children_cpu: sets kcpu to the user+system seconds of this shell's
# waited-for children so far (the load clients: timeout waits for them). The
# builtin times must run in this shell, not in $(...), whose subshell would
# count only its own children.
children_cpu() {
	times >"$tmp/times"
	kcpu=$(awk 'NR == 2 {
		s = 0
		for (i = 1; i <= 2; i++) {split($i, a, /[ms]/); s += a[1] * 60 + a[2]}
		printf "%.3f", s}' "$tmp/times")
}
h2conns=$((CONNS / STREAMS))
((h2conns >= 1)) || h2conns=1

# load proto server size duration file: one bounded load run.
load() {
	local proto=$1 srv=$2 s=$3 d=$4 f=$5 host want hname marker
	host=$(host_of "$srv")
	want=$(size_bytes "$s")
	case "$proto" in
	h1)
		cli_pin timeout $(($(dur_s "$d") + 60)) wrk -t1 -c"$CONNS" -d"$d" --timeout 2s --latency \
			-H "Host: $host" "http://$(h1_addr "$srv")/$s.bin" >"$f" 2>&1
		;;
	h2)
		cli_pin timeout $(($(dur_s "$d") + 60)) h2load -t1 -c"$h2conns" -m"$STREAMS" -D "$(dur_s "$d")" \
			--connect-to="$(tls_addr "$srv")" "https://$host/$s.bin" >"$f" 2>&1
		;;
	h3)
		read -r hname marker <<<"$(hit_header "$srv")" || true
		local args=(-c "$h2conns" -m "$STREAMS" -d "$d" -connect-to "$(tls_addr "$srv")" -insecure -size "$want")
		[ -n "$hname" ] && args+=(-hit-header "$hname" -hit-marker "$marker")
		cli_pin timeout $(($(dur_s "$d") + 60)) "$tmp/h3load" "${args[@]}" "https://$host/$s.bin" >"$f" 2>&1
		;;
	esac
}
# parse proto file: "requests req/s p50 p99 errors" of a run's output.
parse() {
	case "$1" in
	h1) awk -v want="$3" '/ requests in / {n = $1; b = $5 + 0; u = $5; sub(/^[0-9.]+/, "", u)
			b *= (u == "KB") ? 1024 : (u == "MB") ? 1048576 : (u == "GB") ? 1073741824 : 1}
		/^Requests\/sec:/ {r = $2} $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2}
		/Non-2xx/ {e += $NF} /Socket errors/ {gsub(/,/, ""); e += $4 + $6 + $8 + $10}
		END {
			# Bytes read per request (wrk rounds them to 2 decimals of
			# its unit): short bodies count as errors.
			if (n > 0 && b / n < want * 0.99) e += n
			printf "%d %.0f %s %s %d\n", n, r, p50, p99, e}' "$2" ;;
	h2) awk -v want="$3" '/^finished in/ {r = $4} /^requests:/ {n = $8; e = $10 + $12 + $14}
		/^status codes:/ {e += $5 + $7 + $9}
		/^traffic:/ {d = $(NF - 1); gsub(/[()]/, "", d)}
		END {
			# DATA bytes per answered request: short bodies count as errors
			# (responses cut at the end of the run add a little).
			if (n > 0 && d / n < want) e += n
			printf "%d %.0f - - %d\n", n, r, e}' "$2" ;;
	h3) awk '$1 == "requests" {n = $2} $1 == "req/s" {r = $2} $1 == "p50" {p50 = $2} $1 == "p99" {p99 = $2} $1 == "errors" {e = $2}
		END {printf "%d %.0f %s %s %d\n", n, r, p50, p99, e}' "$2" ;;
	esac
}

results="$out/runs.tsv"
printf 'proto\tsize\tserver\tround\trequests\treq_s\tp50\tp99\terrors\torigin_requests\tcpu_us\tvalid\tclient_cpu_us\n' >"$results"
invalid=()
echo "servers on CPU $SERVER_CPU, load client on CPU $CLIENT_CPU; h1: wrk -t1 -c$CONNS; h2: h2load -t1 -c$h2conns -m$STREAMS; h3: h3load -c $h2conns -m $STREAMS"
echo "$ROUNDS round(s) of $DURATION per server and cell, after a $WARMUP warm-up"
for proto in $PROTOCOLS; do
	for s in $SIZES; do
		cell=()
		for srv in $SERVERS; do serves "$srv" "$proto" && cell+=("$srv"); done
		((${#cell[@]})) || continue
		for srv in "${cell[@]}"; do
			echo "warm-up $proto $s $srv ($WARMUP)"
			load "$proto" "$srv" "$s" "$WARMUP" "$out/warmup-$proto-$s-$srv.txt" ||
				echo "warning: warm-up $proto $s $srv failed: $(tail -2 "$out/warmup-$proto-$s-$srv.txt" | paste -sd' ')" >&2
		done
		for r in $(seq "$ROUNDS"); do
			# Alternate which server goes first, so drift on this shared
			# machine does not always favour the same one.
			order=("${cell[@]}")
			if ((r % 2 == 0)); then
				order=()
				for ((i = ${#cell[@]} - 1; i >= 0; i--)); do order+=("${cell[$i]}"); done
			fi
			for srv in "${order[@]}"; do
				echo "round $r/$ROUNDS $proto $s $srv ..."
				f="$out/$proto-$s-$srv-r$r.txt"
				tp=$(tree_pids "${pid_of[$srv]}")
				o0=$(origin_count)
				# shellcheck disable=SC2086
				c0=$(cpu_ticks $tp)
				rc=0
				children_cpu
				k0=$kcpu
				load "$proto" "$srv" "$s" "$DURATION" "$f" || rc=$?
				children_cpu
				k1=$kcpu
				# shellcheck disable=SC2086
				c1=$(cpu_ticks $tp)
				o1=$(origin_count)
				read -r n rps p50 p99 errs <<<"$(parse "$proto" "$f" "$(size_bytes "$s")")"
				cpu=$(awk -v t=$((c1 - c0)) -v hz="$hz" -v n="$n" 'BEGIN {if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-"}')
				ccpu=$(awk -v a="$k0" -v b="$k1" -v n="$n" 'BEGIN {if (n > 0) printf "%.1f", (b - a) * 1e6 / n; else print "-"}')
				valid=yes
				why=""
				((rc == 0)) || why+="exit $rc; "
				((errs == 0)) || why+="$errs errors; "
				((n > 0)) || why+="no requests; "
				if [ "$srv" != bare ] && ((o1 != o0)); then why+="$((o1 - o0)) origin requests (not all hits); "; fi
				if [ -n "$why" ]; then
					valid=no
					invalid+=("$proto $s $srv round $r: ${why%; }")
					echo "warning: $proto $s $srv round $r not counted: ${why%; } (see $f)" >&2
				fi
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$proto" "$s" "$srv" "$r" "$n" "$rps" \
					"$p50" "$p99" "$errs" "$((o1 - o0))" "$cpu" "$valid" "$ccpu" >>"$results"
				printf '  %s req/s, %s us CPU/req (client %s), p50 %s, p99 %s\n' "$rps" "$cpu" "$ccpu" "$p50" "$p99"
			done
		done
	done
done

if [ -n "${pid_of[tern-mem]:-}${pid_of[tern-disk]:-}" ]; then
	# tern_edge_store_objects by tier shows where the hits were stored.
	curl -s --max-time 2 "http://$TERN_ADMIN/metrics" >"$out/tern-metrics.txt" || true
fi

# --- the table --------------------------------------------------------------
# median proto size server column: the median of that column over the valid rounds.
median() {
	awk -F'\t' -v p="$1" -v s="$2" -v v="$3" -v c="$4" \
		'$1 == p && $2 == s && $3 == v && $12 == "yes" && $c != "-" {print $c}' "$results" |
		sort -g | awk '{a[NR] = $1} END {
			if (NR == 0) {print "-"; exit}
			m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
			print m}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a != "-" && a != "" && b != "-" && b != "" && b > 0) printf "%.2f", a / b; else print "n/a"}'; }
fmt_rps() { awk -v x="$1" 'BEGIN {if (x == "-") print "fail"; else printf "%.0f", x}'; }
fmt_cpu() { awk -v x="$1" 'BEGIN {if (x == "-") print "fail"; else printf "%.1f", x}'; }

cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
machine="$(nproc) CPUs ($cpu_model), Linux $(uname -r), Debian $(cat /etc/debian_version 2>/dev/null || echo '?'), $(go env GOVERSION), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(varnishd -V 2>&1 | sed -n 's/^varnishd (\([^ ]*\) .*/\1/p' | head -1), wrk $(wrk -v 2>&1 | sed -n 's/^wrk \([^ ]*\).*/\1/p' | head -1), h2load $(h2load --version 2>&1 | sed -n 's/.*nghttp2\///p' | head -1)"
rev="$(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$repo" && git diff --quiet HEAD -- 2>/dev/null || echo '+changes')"
elapsed=$(($(date +%s) - t_start))

md="$out/sidebyside.md"
{
	echo "Cache hits on loopback, median of $ROUNDS round(s) of $DURATION; servers pinned to CPU $SERVER_CPU, load client to CPU $CLIENT_CPU;"
	echo "h1: wrk -t1 -c$CONNS; h2 (TLS): h2load -t1 -c$h2conns -m$STREAMS; h3: bench/h3load -c $h2conns -m $STREAMS. CPU = the server's user+system time per request."
	echo "Tern $rev, GOGC=${GOGC:-default}, $(date -u +%Y-%m-%dT%H:%MZ), $((elapsed / 60)) min $((elapsed % 60)) s."
	echo
	echo "Machine: $machine."
	echo
	hdr="| proto | size |"
	sep="|---|---|"
	for srv in $SERVERS; do
		hdr+=" $srv req/s | $srv CPU µs/req |"
		sep+="---:|---:|"
	done
	ternsrvs=()
	if has_server nginx; then
		for t in tern-mem tern-disk; do has_server $t && ternsrvs+=("$t"); done
	fi
	for t in "${ternsrvs[@]}"; do
		hdr+=" $t÷nginx req/s | $t÷nginx CPU |"
		sep+="---:|---:|"
	done
	echo "$hdr"
	echo "$sep"
	for proto in $PROTOCOLS; do
		for s in $SIZES; do
			row="| $proto | $s |"
			for srv in $SERVERS; do
				if serves "$srv" "$proto"; then
					row+=" $(fmt_rps "$(median "$proto" "$s" "$srv" 6)") | $(fmt_cpu "$(median "$proto" "$s" "$srv" 11)") |"
				else
					row+=" n/a | n/a |"
				fi
			done
			for t in "${ternsrvs[@]}"; do
				if serves nginx "$proto"; then
					row+=" $(ratio "$(median "$proto" "$s" "$t" 6)" "$(median "$proto" "$s" nginx 6)") |"
					row+=" $(ratio "$(median "$proto" "$s" "$t" 11)" "$(median "$proto" "$s" nginx 11)") |"
				else
					row+=" n/a | n/a |"
				fi
			done
			echo "$row"
		done
	done
	echo
	echo "n/a: the server has no such protocol here (Varnish has no TLS; nginx 1.22 has no HTTP/3)."
	echo "Every counted run was 100% hits: the origin (which counts its requests) saw none during it."
	if ((${#invalid[@]})); then
		echo
		echo "Runs not counted (errors, or not all hits; \"fail\" = no round counted):"
		for i in "${invalid[@]}"; do echo "- $i"; done
	fi
} >"$md"
cp "$md" "$here/out/sidebyside.md"
cat "$md"
echo
echo "table: bench/out/sidebyside.md; raw output: $out"

if [ "$UPDATE_README" = 1 ]; then
	readme="$repo/README.md"
	grep -q '<!-- sidebyside:begin -->' "$readme" && grep -q '<!-- sidebyside:end -->' "$readme" ||
		die "README.md has no <!-- sidebyside:begin --> / <!-- sidebyside:end --> markers"
	awk -v f="$md" '
		/<!-- sidebyside:begin -->/ {print; while ((getline l < f) > 0) print l; skip = 1; next}
		/<!-- sidebyside:end -->/ {skip = 0}
		!skip {print}' "$readme" >"$tmp/README.md"
	cp "$tmp/README.md" "$readme"
	echo "README.md updated"
fi
((${#invalid[@]} == 0)) || die "${#invalid[@]} run(s) not counted, see above"
