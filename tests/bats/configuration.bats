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

@test "-X dump: a window above 1 makes producers batch (linger.ms 1), unless linger.ms is given" {
	run --separate-stderr ecom-bench -X dump
	assert_success
	assert_line '  linger.ms: "0"  # producers'
	run --separate-stderr ecom-bench -w 2 -X dump
	assert_success
	assert_line '  linger.ms: "1"  # producers: window > 1'
	ECOM_WINDOW=64 run --separate-stderr ecom-consume -X dump
	assert_success
	assert_line '  linger.ms: "1"  # producers: window > 1'
	run --separate-stderr ecom-bench -w 2 -X linger.ms=4 -X dump
	assert_success
	assert_line '  linger.ms: "4"  # given'
	refute_line --partial 'window > 1'
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

# key → default as ecom.yaml(5) documents it ("Default N;", "Default .Ql X ;", "Default empty;").
documented_defaults() {
	awk '
		/^\.It Cm [a-z_]+ : Ar / { key = $3; want = 1; next }
		want && /^Default empty;/ { print key "\t"; want = 0; next }
		want && /^Default [0-9]+;/ { v = $2; sub(/;$/, "", v); print key "\t" v; want = 0; next }
		want && /^Default$/ { ql = 1; next }
		want && ql && /^\.Ql / { print key "\t" $2; want = 0; ql = 0; next }
	' "$ECOM_SRCDIR/man/ecom.yaml.5"
}

@test "the built-in defaults are the ones ecom.yaml(5) and etc/ecom.yaml document" {
	# No file, no ECOM_* variable: -X dump shows the built-in values.
	run --separate-stderr env -i PATH="$PATH" HOME="$BATS_TEST_TMPDIR" ecom-persist -X dump
	assert_success
	assert_line "# in force: built-in defaults < (no config file) < ECOM_* < flags"
	local dump=$output key value n=0 shown
	while IFS=$'\t' read -r key value; do
		n=$((n + 1))
		shown=$(echo "$dump" | sed -nE "s/^$key: \"?([^\"]*)\"?\$/\1/p")
		assert_equal "$key: $shown" "$key: $value"
		[[ -n "$value" ]] || value='""'
		grep -qxF "#$key: $value" "$ECOM_SRCDIR/etc/ecom.yaml" || fail "etc/ecom.yaml: no '#$key: $value'"
	done < <(documented_defaults)
	assert_equal "$n" "$(echo "$dump" | grep -cE '^[a-z_]+: ')"
}
