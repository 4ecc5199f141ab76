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
	uri=$(sed -E 's|//ecom:[^@]*@|//ecom:not-the-password@|' <<<"$ECOM_POSTGRES_URI")
	[[ $uri == *"//ecom:not-the-password@"* ]] || fail "no password to replace in the stack's URI"
	run ecom-persist --store "$uri" </dev/null
	assert_failure 1
	assert_output --partial "password authentication failed"
	assert_output --partial "ecom:***@"
	refute_output --partial "not-the-password"
}

@test "connections the database drops mid-run are made again: every stage lives, exactly N" {
	ecom-reconcile -q --reset
	start_stages
	start_bg reconcile timeout 300 ecom-reconcile --drive 200
	wait_for_fulfilled 30
	# Every connection of this test's commands (application_name ends in
	# the schema name), as when the server restarts under them.
	psql -qAt "$ECOM_POSTGRES_URI" -c "select count(pg_terminate_backend(pid)) from pg_stat_activity
		where application_name like '%/$ECOM_DATABASE'" >/dev/null
	status=0
	wait "$(<"$BATS_TEST_TMPDIR/reconcile.pid")" || status=$?
	rm -f "$BATS_TEST_TMPDIR/reconcile.pid"
	[[ $status -eq 0 ]] || fail "ecom-reconcile exited $status: $(cat "$BATS_TEST_TMPDIR/reconcile.err")"
	# No stage died: each one saw the lost connection, said so, and went on.
	for name in payment inventory shipping fulfillment; do
		kill -0 "$(<"$BATS_TEST_TMPDIR/$name.pid")" || fail "stage $name died: $(cat "$BATS_TEST_TMPDIR/$name.err")"
	done
	run cat "$BATS_TEST_TMPDIR"/*.err
	assert_output --regexp "(terminating connection|server closed the connection|no connection to the server).*retrying for up to 120 s"
	assert_output --regexp "store 'postgresql://ecom:\*\*\*@[^']*': back after [0-9.]+ s"
	assert_exactly_n_orders 200
}
