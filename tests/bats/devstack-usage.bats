#!/usr/bin/env bats
# scripts/devstack.sh and scripts/test.sh refuse bad choices of server or
# service with a message that says what is valid, and exit 2, before they
# start anything.  No dev stack needed.

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
	assert_output --partial "usage: devstack.sh up [kafka|mongodb|postgresql ...]|down|status|env|packages|--help"
	assert_output --regexp "ECOM_MONGO_SERVER picks the MongoDB-protocol server: mongod .*memory.*h2.*ferretdb"
}

@test "test.sh --mongo-server without a kind exits 2" {
	run "$ECOM_SRCDIR/scripts/test.sh" --mongo-server
	assert_failure 2
	assert_output "test: --mongo-server needs a kind: mongod, memory, h2 or ferretdb"
}
