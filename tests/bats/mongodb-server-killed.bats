#!/usr/bin/env bats
# The persistent MongoDB-protocol server (mongo-java-server with its H2
# backend, ECOM_MONGO_SERVER=h2) killed with SIGKILL in the middle of a
# run and restarted on its file: every acknowledged write is still there,
# so the flow ends with exactly N documents per collection and a clean
# audit.  The test starts that server itself (scripts/devstack.sh up
# mongodb, in a state dir of its own) beside the dev stack's Kafka.
#
# The stages retry a store that went away for up to retry_timeout_ms
# (120 s); should one give up all the same, the test starts it again, as
# the stage-killed case does (flow_cases.bash), since what is tested here
# is the server's durability, not the stages' patience.

load helpers
load flow_cases

setup() {
	require_stack mongodb
	H2_STACK="$BATS_TEST_TMPDIR/h2-stack"
	local env_out
	env_out=$(ECOM_DEVSTACK_DIR="$H2_STACK" ECOM_MONGO_SERVER=h2 \
		"$ECOM_SRCDIR/scripts/devstack.sh" up mongodb 2>"$BATS_TEST_TMPDIR/h2-up.err") ||
		fail "the h2 server did not start: $(cat "$BATS_TEST_TMPDIR/h2-up.err")"
	eval "$env_out"
	[[ $env_out == *"# mongodb: mongo-java-server "*" (H2)"* ]] || fail "not the H2 server: $env_out"
}

@test "mongodb (h2): devstack.sh status names the server as it names itself" {
	ECOM_DEVSTACK_DIR="$H2_STACK" run "$ECOM_SRCDIR/scripts/devstack.sh" status
	assert_success
	# One line per service, then the stack's security line.
	assert_line --regexp "^mongodb +pid=[0-9]+ +port=[0-9]+ +up +$(server_says mongodb | sed 's/[().]/\\&/g')\$"
	assert_line --regexp "^security +plain: "
	assert_output --partial "(H2)"
}

teardown() {
	stop_all_bg
	ECOM_DEVSTACK_DIR="$H2_STACK" "$ECOM_SRCDIR/scripts/devstack.sh" down 2>/dev/null || true
}

h2_server_pid() {
	cat "$H2_STACK/mongodb/mongodb.pid"
}

# Start again each background command of this test that has died.
restart_dead() {
	local name
	for name in "$@"; do
		if ! kill -0 "$(<"$BATS_TEST_TMPDIR/$name.pid")" 2>/dev/null; then
			case $name in
			reconcile) start_bg reconcile timeout 300 ecom-reconcile --drive 200 ;;
			*) start_bg "$name" ecom-consume --stage "$name" ;;
			esac
		fi
	done
}

@test "mongodb (h2): the server killed with SIGKILL mid-run and restarted loses no acknowledged write" {
	ecom-reconcile -q --reset
	start_stages
	start_bg reconcile timeout 300 ecom-reconcile --drive 200
	wait_for_fulfilled 60

	local pid
	pid=$(h2_server_pid)
	kill -KILL "$pid"
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	ECOM_DEVSTACK_DIR="$H2_STACK" run "$ECOM_SRCDIR/scripts/devstack.sh" up mongodb
	assert_success
	assert_line --partial "$ECOM_MONGODB_URI"
	[[ $(h2_server_pid) != "$pid" ]] || fail "the server was not restarted"

	# A stage that gave up on its store is started again, the reconciler too.
	sleep 1
	restart_dead payment inventory shipping fulfillment reconcile

	local status=0
	for _ in $(seq 3000); do
		kill -0 "$(<"$BATS_TEST_TMPDIR/reconcile.pid")" 2>/dev/null || break
		restart_dead payment inventory shipping fulfillment
		sleep 0.1
	done
	wait "$(<"$BATS_TEST_TMPDIR/reconcile.pid")" 2>/dev/null || status=$?
	# a reconciler started by restart_dead is not this shell's child: its
	# report says whether it finished
	jq -e '.orders == 200' "$BATS_TEST_TMPDIR/reconcile.out" >/dev/null ||
		fail "ecom-reconcile did not finish 200 orders (status $status): $(cat "$BATS_TEST_TMPDIR/reconcile.err")"
	rm -f "$BATS_TEST_TMPDIR/reconcile.pid"
	assert_exactly_n_orders 200
}
