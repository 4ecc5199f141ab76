#!/usr/bin/env bats
# The configuration in force: -X dump shows it after every layer, and
# --help shows the defaults in force, not the built-in ones.

load helpers

@test "-X dump shows each layer's value winning: defaults < file < ECOM_* < flags" {
	cat >"$BATS_TEST_TMPDIR/ecom.yaml" <<-EOF
		batch_size: 111
		window: 4
		orders: 300
		kafka:
		  linger.ms: 7
	EOF
	ECOM_WINDOW=8 ECOM_ORDERS=400 run --separate-stderr ecom-bench -c "$BATS_TEST_TMPDIR/ecom.yaml" -n 500 -X dump
	assert_success
	assert_line "# in force: built-in defaults < $BATS_TEST_TMPDIR/ecom.yaml < ECOM_* < flags"
	assert_line "batch_size: 111"
	assert_line "window: 8"
	assert_line "orders: 500"
	assert_line '  linger.ms: "7"  # given'
	assert_line "timeout_ms: 10000"
	assert_line '  enable.idempotence: "true"  # producers'
}

@test "-X dump hides passwords and reads back as a configuration file" {
	ECOM_POSTGRES_URI='postgresql://u:pa55word@h/db' run --separate-stderr ecom-produce -X dump \
		-X sasl.password=pa55word
	assert_success
	assert_line 'postgres_uri: "postgresql://u:***@h/db"'
	assert_line '  sasl.password: "***"  # given'
	refute_output --partial pa55word
	ecom-produce -X dump >"$BATS_TEST_TMPDIR/dump.yaml"
	run --separate-stderr ecom-produce -c "$BATS_TEST_TMPDIR/dump.yaml" -X dump
	assert_success
	assert_line "window: 1"
}

@test "--help shows the defaults in force" {
	ECOM_ORDERS=1234 ECOM_WINDOW=7 ECOM_DATABASE=shop run ecom-bench --help
	assert_success
	assert_line --partial "-n, --orders N         orders to run (default 1234)"
	assert_line --partial "-w, --window W         orders in flight at once (default 7; 1 is the original)"
	assert_line --partial "MongoDB database / PostgreSQL schema (default shop)"
	ECOM_BATCH_SIZE=64 run ecom-persist --help
	assert_line --partial "--batch-size N     events per bulk write (default 64)"
}

@test "ecom-consume -o -N reads the last N messages of each partition" {
	require_stack
	ecom-reconcile -q --reset
	ecom-produce --generate 5 --stdout >"$BATS_TEST_TMPDIR/orders.jsonl"
	ecom-produce -q -t "${ECOM_TOPIC_PREFIX}ordercreated" <"$BATS_TEST_TMPDIR/orders.jsonl"
	run --separate-stderr ecom-consume -t "${ECOM_TOPIC_PREFIX}ordercreated" -o -2 -e
	assert_success
	assert_equal "$(echo "$output" | jq -r .eventId)" "$(tail -n 2 "$BATS_TEST_TMPDIR/orders.jsonl" | jq -r .eventId)"
}
