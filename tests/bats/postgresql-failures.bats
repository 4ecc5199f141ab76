#!/usr/bin/env bats
# PostgreSQL going wrong: a malformed URI, a wrong password, and the
# server dropping the stages' connections in the middle of a run.

load helpers
load flow_cases

setup() {
	require_stack postgresql
}

teardown() {
	stop_all_bg
}

@test "a malformed PostgreSQL URI is a configuration error" {
	run ecom-persist --store 'postgresql://ecom@[::1' </dev/null
	assert_failure 2
	assert_line --partial "ecom-persist: 'store': not a valid PostgreSQL URI: "
}

@test "a malformed MongoDB URI is a configuration error" {
	run ecom-persist --store 'mongodb://' </dev/null
	assert_failure 2
	assert_line "ecom-persist: 'store': not a valid MongoDB URI: Invalid host string in URI"
}

@test "a wrong PostgreSQL password says authentication failed, without the password" {
	uri=$(sed 's|//ecom:ecom@|//ecom:not-the-password@|' <<<"$ECOM_POSTGRES_URI")
	run ecom-persist --store "$uri" </dev/null
	assert_failure 1
	assert_output --partial "password authentication failed"
	assert_output --partial "ecom:***@"
	refute_output --partial "not-the-password"
}

@test "a database that goes away mid-run stops the stages with exit 1 and loses nothing" {
	ecom-reconcile -q --reset
	start_stages
	start_bg reconcile ecom-reconcile --drive 200
	wait_for_fulfilled 30
	# Every connection of this test's commands (application_name ends in
	# the schema name), as when the server restarts under them.
	psql -qAt "$ECOM_POSTGRES_URI" -c "select count(pg_terminate_backend(pid)) from pg_stat_activity
		where application_name like '%/$ECOM_DATABASE'" >/dev/null
	# The process holding the order in flight notices at its next write
	# and exits 1; the others wait idle for an order that never comes.
	gone=
	for _ in $(seq 600); do
		for name in payment inventory shipping fulfillment reconcile; do
			kill -0 "$(<"$BATS_TEST_TMPDIR/$name.pid")" 2>/dev/null || { gone=$name; break 2; }
		done
		sleep 0.1
	done
	[[ -n "$gone" ]] || fail "no process noticed the lost connection within a minute"
	status=0
	wait "$(<"$BATS_TEST_TMPDIR/$gone.pid")" || status=$?
	rm -f "$BATS_TEST_TMPDIR/$gone.pid"
	assert_equal "$status" 1
	run cat "$BATS_TEST_TMPDIR/$gone.err"
	assert_output --regexp "(terminating connection|server closed the connection|no connection to the server)"
	stop_all_bg
	# Start everything again: the run ends with exactly N, nothing half-written.
	start_stages
	run --separate-stderr timeout 300 ecom-reconcile --drive 200
	assert_success
	assert_exactly_n_orders 200
}
