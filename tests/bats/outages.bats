#!/usr/bin/env bats
# Outages of the services under a running flow: the Kafka broker killed
# with SIGKILL and started again (under both processing guarantees), PostgreSQL stopped in immediate mode
# (a crash, as far as its clients can tell) and started again.  Every
# stage and the driver are left running: each must ride the outage out
# (retry_timeout_ms, 120 s by default), say so in one line and once more
# when the service is back, and the run must end with exactly N.
#
# The outages hit a Kafka and a PostgreSQL of this file's own (a second
# dev stack, scripts/devstack.sh up kafka postgresql in a state dir of
# its own), so the other tests' services are
# never stopped.  The last test restarts PostgreSQL with `devstack.sh up
# postgresql` on a third stack, whose Kafka has three (stand-in) brokers.

load helpers

setup_file() {
	# Only where the dev stack is; without it require_stack skips below.
	[[ -n "${ECOM_KAFKA_BROKERS:-}" ]] || return 0
	# Under /tmp itself: the postgres user cannot enter bats's 0700 temporary directories.
	OUTAGE_STACK=$(mktemp -d /tmp/ecom-outages-XXXXXX) && chmod 0755 "$OUTAGE_STACK" || return 1
	export OUTAGE_STACK
	# secure beside a secure stack (its env then names its own ECOM_CONFIG)
	local env_out secure=()
	if stack_is_secure; then secure=(--secure); fi
	env_out=$(ECOM_DEVSTACK_DIR="$OUTAGE_STACK" "$ECOM_SRCDIR/scripts/devstack.sh" up "${secure[@]}" kafka postgresql \
		2>"$BATS_FILE_TMPDIR/up.err") ||
		{ echo "# the outage stack did not start: $(cat "$BATS_FILE_TMPDIR/up.err")" >&3; return 1; }
	eval "$env_out"
	export ECOM_KAFKA_BROKERS ECOM_POSTGRES_URI
	if [[ -n ${ECOM_CONFIG:-} ]]; then export ECOM_CONFIG; fi
}

teardown_file() {
	[[ -n "${OUTAGE_STACK:-}" ]] || return 0
	ECOM_DEVSTACK_DIR="$OUTAGE_STACK" "$ECOM_SRCDIR/scripts/devstack.sh" down 2>/dev/null || true
	rm -rf "$OUTAGE_STACK"
}

setup() {
	require_stack postgresql
}

teardown() {
	stop_all_bg
	if [[ -n "${THREE_BROKER_STACK:-}" ]]; then
		ECOM_DEVSTACK_DIR="$THREE_BROKER_STACK" "$ECOM_SRCDIR/scripts/devstack.sh" down >/dev/null 2>&1 || true
		rm -rf "$THREE_BROKER_STACK"
	fi
}

outage_stack() {
	ECOM_DEVSTACK_DIR="$OUTAGE_STACK" "$ECOM_SRCDIR/scripts/devstack.sh" "$@"
}

# Wait for the driver; every stage must still be running.
assert_run_survived() {
	local status=0 name
	wait "$(<"$BATS_TEST_TMPDIR/reconcile.pid")" || status=$?
	rm -f "$BATS_TEST_TMPDIR/reconcile.pid"
	[[ $status -eq 0 ]] || fail "ecom-reconcile exited $status: $(cat "$BATS_TEST_TMPDIR/reconcile.err")"
	for name in payment inventory shipping fulfillment; do
		kill -0 "$(<"$BATS_TEST_TMPDIR/$name.pid")" ||
			fail "stage $name died: $(cat "$BATS_TEST_TMPDIR/$name.err")"
	done
}

@test "the broker killed with SIGKILL and started again 10 s later: every stage lives, exactly N" {
	ecom-reconcile -q --reset
	start_stages
	start_bg reconcile timeout 400 ecom-reconcile --drive 300 -w 4
	wait_for_fulfilled 40

	run outage_stack kill-broker 1
	assert_success
	sleep 10
	run outage_stack start-broker 1
	assert_success

	assert_run_survived
	run cat "$BATS_TEST_TMPDIR"/*.err
	# One line when the outage starts, one when it ends, per process that saw it.
	assert_output --regexp "kafka: all brokers are down \('$ECOM_KAFKA_BROKERS'\).*retrying for up to 120 s"
	assert_output --regexp "kafka: back after [0-9.]+ s"
	jq -e '.orders == 300 and .complete' "$BATS_TEST_TMPDIR/reconcile.out" >/dev/null ||
		fail "report: $(cat "$BATS_TEST_TMPDIR/reconcile.out")"
	assert_exactly_n_orders 300
}

@test "exactly_once: the broker killed with SIGKILL and started again 30 s later: every stage lives, no duplicate on the topics" {
	export ECOM_PROCESSING_GUARANTEE=exactly_once
	local topic events
	ecom-reconcile -q --reset
	start_stages
	start_bg reconcile timeout 400 ecom-reconcile --drive 300 -w 4
	wait_for_fulfilled 40

	run outage_stack kill-broker 1
	assert_success
	sleep 30
	run outage_stack start-broker 1
	assert_success

	# Within the retry bound, every open transaction still commits.
	assert_run_survived
	jq -e '.orders == 300 and .processing_guarantee == "exactly_once"' \
		"$BATS_TEST_TMPDIR/reconcile.out" >/dev/null || fail "report: $(cat "$BATS_TEST_TMPDIR/reconcile.out")"
	assert_exactly_n_orders 300
	for topic in ordercreated paymentcompleted inventoryupdated ordershipped orderfulfilled; do
		events=$(ecom-consume -q -t "$ECOM_TOPIC_PREFIX$topic" -e | jq -r .eventId)
		assert_equal "$topic: $(grep -c . <<<"$events") events, $(sort -u <<<"$events" | grep -c .) distinct" \
			"$topic: 300 events, 300 distinct"
	done
}

@test "PostgreSQL stopped in immediate mode and started again: every stage lives, exactly N" {
	ecom-reconcile -q --reset
	start_stages
	start_bg reconcile timeout 400 ecom-reconcile --drive 300 -w 4
	wait_for_fulfilled 40

	# SIGQUIT is pg_ctl's immediate mode: every backend quits at once, no
	# checkpoint; the next start recovers from the WAL.
	local pid
	read -r pid <"$OUTAGE_STACK/postgres/data/postmaster.pid"
	kill -QUIT "$pid"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && fail "postgres (pid $pid) did not stop"
	sleep 5
	run outage_stack up postgresql
	assert_success

	assert_run_survived
	run cat "$BATS_TEST_TMPDIR"/*.err
	assert_output --regexp "store 'postgresql://ecom:\*\*\*@[^']*': .*retrying for up to 120 s"
	assert_output --regexp "store 'postgresql://ecom:\*\*\*@[^']*': back after [0-9.]+ s"
	local password=${ECOM_POSTGRES_URI#*://ecom:}
	password=${password%%@*}
	[[ -n $password && $password != "$ECOM_POSTGRES_URI" ]] || fail "no password in the URI"
	refute_output --partial "ecom:$password@"
	assert_exactly_n_orders 300
}

@test "devstack.sh up mongodb on this running stack adds the server and waits for nothing it cannot ask" {
	# The stack runs kafka and postgresql: up of one more service must find
	# PostgreSQL's tools too, or it waits 60 s for an answer it cannot get.
	run --separate-stderr timeout 45 env ECOM_DEVSTACK_DIR="$OUTAGE_STACK" \
		"$ECOM_SRCDIR/scripts/devstack.sh" up mongodb
	assert_success
	assert_output --regexp "ECOM_MONGODB_URI=mongodb://(127\.0\.0\.1|localhost):"
	assert_output --partial "ECOM_POSTGRES_URI="
	run outage_stack status
	assert_success
	assert_line --regexp '^postgresql .* up'
	assert_line --regexp '^mongodb .* up'
}

@test "PostgreSQL stopped on a stack whose Kafka has three brokers: devstack.sh up postgresql starts it again" {
	# chaos.sh --brokers 3 --store-kills 1 restarts its store this way.  A
	# stack of this test's own: a real PostgreSQL, and stand-ins for three
	# Kafka brokers and their controller (processes whose command line
	# names each node's config, as devstack.sh's pid check wants; a kcat
	# that lists three brokers; the controller listening on a port), so
	# that no four JVMs are needed to hold the stack's broker count.
	THREE_BROKER_STACK=$(mktemp -d /tmp/ecom-3brokers-XXXXXX) && chmod 0755 "$THREE_BROKER_STACK"
	local dir=$THREE_BROKER_STACK i pid
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '%s\n' '#!/bin/sh' '# kcat -L [-J]: three brokers, no topic' \
		'case " $* " in *" -J "*) echo '\''{"brokers":[{"id":1},{"id":2},{"id":3}],"topics":[]}'\'' ;; esac' \
		>"$BATS_TEST_TMPDIR/bin/kcat"
	chmod +x "$BATS_TEST_TMPDIR/bin/kcat"
	printf '%s\n' kafka postgresql >"$dir/services"
	mkdir -p "$dir/kafka/controller"
	start_bg controller python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
time.sleep(600)' "$dir/kafka/controller/server.properties"
	cp "$BATS_TEST_TMPDIR/controller.pid" "$dir/kafka/controller/kafka.pid"
	for _ in $(seq 100); do [[ -s $BATS_TEST_TMPDIR/controller.out ]] && break; sleep 0.1; done
	printf 'KAFKA_BROKERS_COUNT=3\nKAFKA_PORT=1\nKAFKA_CONTROLLER_PORT=%s\n' "$(<"$BATS_TEST_TMPDIR/controller.out")" >"$dir/ports.env"
	printf 'KAFKA_PORT_%s=%s\n' 2 3 3 5 >>"$dir/ports.env"
	for i in 1 2 3; do
		mkdir -p "$dir/kafka/kafka-$i"
		# shellcheck disable=SC2016 # $0 is the inner shell's
		start_bg "kafka-$i" bash -c 'exec -a "$0" sleep 600' "$dir/kafka/kafka-$i/server.properties"
		cp "$BATS_TEST_TMPDIR/kafka-$i.pid" "$dir/kafka/kafka-$i/kafka.pid"
	done
	three() { PATH="$BATS_TEST_TMPDIR/bin:$PATH" ECOM_DEVSTACK_DIR="$dir" "$ECOM_SRCDIR/scripts/devstack.sh" "$@" 3>&-; }

	unset ECOM_KAFKA_BROKERS_COUNT
	run --separate-stderr three up postgresql
	((status == 0)) || fail "first up postgresql: exit $status: $stderr"
	assert_line --index 0 --regexp "^export ECOM_KAFKA_BROKERS=127\.0\.0\.1:1,127\.0\.0\.1:3,127\.0\.0\.1:5 ECOM_POSTGRES_URI=postgresql://ecom:ecom@127\.0\.0\.1:[0-9]+/ecommerce$"

	# Stopped in immediate mode, as chaos.sh stops it.
	read -r pid <"$dir/postgres/data/postmaster.pid"
	kill -QUIT "$pid"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && fail "postgres (pid $pid) did not stop"
	run --separate-stderr three up postgresql
	((status == 0)) || fail "up postgresql after the stop: exit $status: $stderr"
	run three status
	assert_success
	assert_line --regexp '^postgresql +pid=[0-9]+ +port=[0-9]+ +up$'
	assert_line --regexp "^controller +pid=$(<"$BATS_TEST_TMPDIR/controller.pid") +port=$(<"$BATS_TEST_TMPDIR/controller.out") +up$"
	for i in 1 2 3; do assert_line --regexp "^kafka-$i +pid=[0-9]+ +port=[0-9]+ +up$"; done

	# A count asked for, by --brokers or ECOM_KAFKA_BROKERS_COUNT, is still held to.
	run --separate-stderr three up --brokers 1 postgresql
	assert_failure 1
	assert_equal "$stderr" "devstack: a stack with 3 brokers is running in $dir: run 'devstack.sh down' first to start one with 1"
	ECOM_KAFKA_BROKERS_COUNT=2 run --separate-stderr three up postgresql
	assert_failure 1
	assert_equal "$stderr" "devstack: a stack with 3 brokers is running in $dir: run 'devstack.sh down' first to start one with 2"
}
