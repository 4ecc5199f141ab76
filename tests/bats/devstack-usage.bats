#!/usr/bin/env bats
# scripts/devstack.sh and scripts/test.sh refuse bad choices of server,
# service or broker count with a message that says what is valid, and exit
# 2, before they start anything (and --secure what it cannot give, or a
# stack of the other mode); the cluster commands say when there is no
# stack (exit 1); chaos.sh refuses a bound on the pause across a broker
# loss that is no number of seconds, and an ECOM_CONFIG ecom does not
# take.  No dev stack needed.

load helpers

setup() {
	DEVSTACK="$ECOM_SRCDIR/scripts/devstack.sh"
	export ECOM_DEVSTACK_DIR="$BATS_TEST_TMPDIR/stack"
}

@test "devstack.sh up with an unknown ECOM_MONGO_SERVER lists the valid ones and exits 2" {
	ECOM_MONGO_SERVER=mongo run "$DEVSTACK" up
	assert_failure 2
	assert_output "devstack: ECOM_MONGO_SERVER='mongo' is not one of: mongod memory h2 ferretdb"
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
}

@test "devstack.sh up with an ECOM_MONGOD that is no executable exits 2" {
	ECOM_MONGOD="$BATS_TEST_TMPDIR/no-such-mongod" run "$DEVSTACK" up mongodb
	assert_failure 2
	assert_output "devstack: ECOM_MONGOD='$BATS_TEST_TMPDIR/no-such-mongod' is not an executable file"
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
}

@test "devstack.sh up with an unknown service names the services and exits 2" {
	run "$DEVSTACK" up mongodb redis
	assert_failure 2
	assert_output "devstack: unknown service: redis (want kafka, mongodb or postgresql)"
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
}

@test "devstack.sh --help names the MongoDB-protocol servers ECOM_MONGO_SERVER picks" {
	run "$DEVSTACK" --help
	assert_success
	assert_output --partial "usage: devstack.sh up [--brokers N] [--secure] [kafka|mongodb|postgresql ...]|down|status|env|packages|--help"
	assert_output --regexp "ECOM_MONGO_SERVER picks the MongoDB-protocol server: mongod .*memory.*h2.*ferretdb"
	# A cluster's dedicated controller, and that the broker commands spare it.
	assert_output --partial "from 2 on a
            node of their own is the controller (process.roles=controller,"
	assert_output --partial "kill-broker
            and start-broker act on brokers only: a cluster's controller is
            no broker and cannot be killed or started through them"
}

@test "devstack.sh up --brokers outside 1 to 9 is a usage error" {
	unset ECOM_KAFKA_BROKERS_COUNT
	for bad in 0 10 three ""; do
		run --separate-stderr "$DEVSTACK" up --brokers "$bad"
		assert_failure 2
		assert_output ''
		assert_equal "$stderr" "devstack: --brokers '$bad': expected a number of brokers from 1 to 9"
	done
	run --separate-stderr "$DEVSTACK" up --brokers
	assert_failure 2
	assert_equal "$stderr" "devstack: --brokers needs a number"
	run --separate-stderr "$DEVSTACK" up --bogus
	assert_failure 2
	assert_equal "$stderr" "devstack: up: unknown option '--bogus'"
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
}

@test "devstack.sh up checks ECOM_KAFKA_BROKERS_COUNT like --brokers, and --brokers wins" {
	ECOM_KAFKA_BROKERS_COUNT=0 run --separate-stderr "$DEVSTACK" up
	assert_failure 2
	assert_equal "$stderr" "devstack: ECOM_KAFKA_BROKERS_COUNT '0': expected a number of brokers from 1 to 9"
	# The flag is the one read (and refused) when both are given.
	ECOM_KAFKA_BROKERS_COUNT=3 run --separate-stderr "$DEVSTACK" up --brokers=x
	assert_failure 2
	assert_equal "$stderr" "devstack: --brokers 'x': expected a number of brokers from 1 to 9"
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
}

@test "devstack.sh kill-broker, start-broker and wait-isr check their argument" {
	for cmd in kill-broker start-broker; do
		run --separate-stderr "$DEVSTACK" "$cmd"
		assert_failure 2
		assert_equal "$stderr" "devstack: $cmd needs one broker number"
		run --separate-stderr "$DEVSTACK" "$cmd" 0
		assert_failure 2
		assert_equal "$stderr" "devstack: $cmd '0': expected a broker number from 1 to 9"
	done
	run --separate-stderr "$DEVSTACK" wait-isr soon
	assert_failure 2
	assert_equal "$stderr" "devstack: wait-isr 'soon': expected a timeout in seconds from 1 to 9999"
	run --separate-stderr "$DEVSTACK" wait-isr 5 6
	assert_failure 2
	assert_equal "$stderr" "devstack: wait-isr takes at most one argument, a timeout"
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
}

@test "devstack.sh kill-broker, start-broker and wait-isr without a stack: exit 1" {
	for cmd in "kill-broker 1" "start-broker 1" "wait-isr 1"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$DEVSTACK" $cmd
		assert_failure 1
		assert_equal "$stderr" "devstack: not up: no ports in $ECOM_DEVSTACK_DIR (run 'devstack.sh up')"
	done
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
}

@test "test.sh --mongo-server without a kind exits 2" {
	run "$ECOM_SRCDIR/scripts/test.sh" --mongo-server
	assert_failure 2
	assert_output "test: --mongo-server needs a kind: mongod, memory, h2 or ferretdb"
}

@test "test.sh --secure with --mongo-server mongod exits 2 before starting anything" {
	for order in "--secure --mongo-server mongod" "--mongo-server mongod --secure"; do
		# shellcheck disable=SC2086 # the options, split
		run "$ECOM_SRCDIR/scripts/test.sh" $order
		assert_failure 2
		assert_output "test: --secure runs --mongo-server memory, h2 or ferretdb, not mongod: the secure stack cannot give it TLS"
	done
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
	assert [ ! -e "$ECOM_DEVSTACK_DIR-secure" ]
}

@test "test.sh --secure with an unknown --mongo-server kind exits 2 before starting anything" {
	run "$ECOM_SRCDIR/scripts/test.sh" --secure --mongo-server mongo-java-server
	assert_failure 2
	assert_output "test: --mongo-server 'mongo-java-server' is not one of: mongod, memory, h2, ferretdb"
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
	assert [ ! -e "$ECOM_DEVSTACK_DIR-secure" ]
}

@test "devstack.sh up with ECOM_DEVSTACK_SECURE other than 1 or 0 exits 2" {
	ECOM_DEVSTACK_SECURE=maybe run "$DEVSTACK" up
	assert_failure 2
	assert_output "devstack: ECOM_DEVSTACK_SECURE='maybe': expected 1 or 0"
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
}

@test "devstack.sh up --secure refuses a MongoDB-protocol server it cannot give TLS, before starting anything" {
	# a mongod that is never run: the refusal comes first
	ECOM_MONGO_SERVER=mongod ECOM_MONGOD=/bin/true run "$DEVSTACK" up --secure mongodb
	assert_failure 1
	assert_output "devstack: mongodb: --secure runs mongo-java-server (ECOM_MONGO_SERVER=memory or h2) or FerretDB (ferretdb) only; mongod is not set up for TLS yet"
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
}

@test "devstack.sh up --secure on a plain stack's directory says to take it down first" {
	mkdir -p "$ECOM_DEVSTACK_DIR"
	echo kafka >"$ECOM_DEVSTACK_DIR/services"
	run "$DEVSTACK" up --secure kafka
	assert_failure 1
	assert_output "devstack: $ECOM_DEVSTACK_DIR holds a plain stack: run 'devstack.sh down' first to start a secure one"
	assert [ ! -e "$ECOM_DEVSTACK_DIR/tls" ]
}

@test "chaos.sh --max-broker-pause other than seconds is a usage error, before anything starts" {
	local bad
	for bad in x -1 5s '' 1.; do
		run --separate-stderr "$ECOM_SRCDIR/scripts/chaos.sh" --max-broker-pause "$bad"
		assert_failure 2
		assert_equal "$stderr" "chaos: --max-broker-pause '$bad': expected a number of seconds
chaos: try 'chaos.sh --help'"
		assert_equal "$output" ""
	done
	run --separate-stderr "$ECOM_SRCDIR/scripts/chaos.sh" --max-broker-pause
	assert_failure 2
	assert_regex "$stderr" "^chaos: --max-broker-pause needs a value"
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
	run "$ECOM_SRCDIR/scripts/chaos.sh" --help
	assert_success
	assert_line --regexp '^  --max-broker-pause S  on more than one broker, fail when the longest pause$'
}

@test "chaos.sh --all-kills without a number of every kind of kill is a usage error, before anything starts" {
	local kills
	for kills in "" "--stage-kills 20 --broker-kills 1 --store-kills -1" "--stage-kills -1 --broker-kills 1 --store-kills 1"; do
		# shellcheck disable=SC2086 # the options, split
		run --separate-stderr "$ECOM_SRCDIR/scripts/chaos.sh" --all-kills $kills
		[[ $status -eq 2 ]] || fail "--all-kills $kills: exit $status: $stderr"
		assert_equal "$stderr" "chaos: --all-kills needs a number of each kind of kill (--stage-kills, --broker-kills, --store-kills; 0 for none), not -1
chaos: try 'chaos.sh --help'"
		assert_equal "$output" ""
	done
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
	run "$ECOM_SRCDIR/scripts/chaos.sh" --help
	assert_success
	assert_line --regexp '^  --all-kills           fail when the flow ended before every kill asked for$'
}

@test "chaos.sh with an ECOM_CONFIG ecom does not take says so with ecom's message and exits 2, before anything starts" {
	printf 'kafka: 3\n' >"$BATS_TEST_TMPDIR/bad.yaml"
	# From the source tree chaos.sh runs bootstrap.sh (make) first: without
	# make check's jobserver flags, whose make warns about them on stderr.
	unset MAKEFLAGS MFLAGS MAKELEVEL
	ECOM_CONFIG=$BATS_TEST_TMPDIR/bad.yaml ECOM_RUN_DIR=$BATS_TEST_TMPDIR/run \
		run --separate-stderr "$ECOM_SRCDIR/scripts/chaos.sh" -n 10
	assert_failure 2
	assert_equal "$stderr" "chaos: ecom does not take the settings in force (ECOM_CONFIG=$BATS_TEST_TMPDIR/bad.yaml): ecom-reconcile: $BATS_TEST_TMPDIR/bad.yaml:1: 'kafka' must be a mapping of librdkafka properties"
	assert_equal "$output" ""
	ECOM_CONFIG=$BATS_TEST_TMPDIR/missing.yaml ECOM_RUN_DIR=$BATS_TEST_TMPDIR/run \
		run --separate-stderr "$ECOM_SRCDIR/scripts/chaos.sh" -n 10
	assert_failure 2
	assert_equal "$stderr" "chaos: ecom does not take the settings in force (ECOM_CONFIG=$BATS_TEST_TMPDIR/missing.yaml): ecom-reconcile: cannot read config file '$BATS_TEST_TMPDIR/missing.yaml': No such file or directory"
	assert_equal "$output" ""
	# no stack, no run dir, no kcat settings file
	assert [ ! -e "$ECOM_DEVSTACK_DIR" ]
	assert [ ! -e "$BATS_TEST_TMPDIR/run" ]
	run "$ECOM_SRCDIR/scripts/chaos.sh" --help
	assert_success
	assert_line --regexp '^MongoDB-protocol server the stack runs\), ECOM_RUN_DIR \(logs\), ECOM_CONFIG$'
}
