#!/usr/bin/env bash
# End-to-end: a real browser (Debian's Chromium, headless) plays the demo
# video through an edge of `tern demo` and seeks in it, which takes Range
# requests answered from the edge's slices. Needs chromium installed.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
cleanup() {
	[ -n "${demo_pid:-}" ] && kill -INT "$demo_pid" 2>/dev/null && wait "$demo_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/tern" ./cmd/tern
"$work/tern" demo --data-dir "$work/data" >"$work/demo.out" 2>"$work/demo.err" &
demo_pid=$!
for _ in $(seq 1 50); do
	curl -fsS http://127.0.1.1:9100/readyz >/dev/null 2>&1 && break
	sleep 0.2
done

cat >"$work/seek.html" <<'HTML'
<!doctype html><html><body><pre id=out>start</pre><script>
const out = document.getElementById('out');
const v = document.createElement('video');
v.muted = true; v.preload = 'auto';
v.src = 'http://www.cdn.test:8080/video/demo.mp4';
v.addEventListener('loadedmetadata', () => { out.textContent = 'duration ' + v.duration; v.currentTime = 25; });
v.addEventListener('seeked', () => { out.textContent = 'SEEKED to ' + v.currentTime.toFixed(2) + ' of ' + v.duration.toFixed(2) + ' readyState ' + v.readyState; });
v.addEventListener('error', () => { out.textContent = 'ERROR ' + (v.error && v.error.code); });
document.body.appendChild(v);
</script></body></html>
HTML

result="$(timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--user-data-dir="$work/profile" --host-resolver-rules='MAP www.cdn.test 127.0.1.1' \
	--virtual-time-budget=15000 --dump-dom "file://$work/seek.html" 2>/dev/null | grep -o '<pre id="out">[^<]*' || true)"
echo "browser: ${result#*>}"
slices="$(curl -fsS http://127.0.1.1:9100/metrics | awk '/^tern_edge_slice_fetches_total/ {print $2}')"
echo "edge slice fetches: $slices"
case "$result" in
*"SEEKED to 25.00"*) echo "browser seek: ok" ;;
*) echo "browser seek: FAILED"; tail -20 "$work/demo.err"; exit 1 ;;
esac
