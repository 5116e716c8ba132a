# procs.sh: sourced by the bench scripts. stop_pids [TRIES] stops the
# processes a script started (their ids in the array pids): SIGTERM to
# all, then for each a bounded wait, TRIES checks 0.2 s apart (default 50:
# 10 s, as tern drains for a few seconds; the others exit at once), then
# SIGKILL.
stop_pids() {
	local pid tries=${1:-50}
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq "$tries"); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
}
