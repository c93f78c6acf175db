# tests/testlib.sh - helpers shared by the shell tests in tests/shell/,
# sourced, not run.  Each test prints "ok - NAME" / "not ok - NAME" lines,
# which tests/run-tests.sh counts.

ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1"; }

# check NAME COMMAND...: runs COMMAND and reports NAME by its status.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# wait_pid PID SECONDS: waits up to SECONDS for the child PID to end and
# sets $exit_status.  Returns 1 if it is still running.  A zombie counts as
# ended (orphans may be reaped late here).
wait_pid() {
	local pid=$1 limit=$(($2 * 20))
	exit_status=
	for _ in $(seq "$limit"); do
		if ! kill -0 "$pid" 2>/dev/null || grep -q '^[^ ]* ([^)]*) Z' "/proc/$pid/stat" 2>/dev/null; then
			wait "$pid"
			exit_status=$?
			return 0
		fi
		sleep 0.05
	done
	return 1
}
