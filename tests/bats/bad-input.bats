#!/usr/bin/env bats
# Bad input of every kind: a clear message naming the problem, the
# documented exit status (2 usage/config, 1 runtime), a bounded time, and
# nothing lost or half-written around the bad part.

load helpers

setup() {
	require_stack mongodb
}

teardown() {
	stop_all_bg
}

# Three orders with the middle line replaced by $1.
orders_with_bad_middle_line() {
	ecom-produce --generate 3 --stdout | awk -v bad="$1" 'NR == 2 { print bad; next } { print }'
}

@test "a malformed JSON line costs only that line, reported with its number" {
	orders_with_bad_middle_line '{"eventId": "x",' >"$BATS_TEST_TMPDIR/in.jsonl"
	run ecom-persist <"$BATS_TEST_TMPDIR/in.jsonl"
	assert_failure 1
	assert_line --partial 'ecom-persist: <stdin>:2: '
	assert_line '{"read":3,"written":2,"duplicates":0,"rejected":1}'
	assert_equal "$(store_count ordercreated)" 2
}

@test "a missing field is named in the message and the other lines are stored" {
	line=$(ecom-produce --generate 1 --stdout | jq -c 'del(.payload.orderPrice)')
	orders_with_bad_middle_line "$line" >"$BATS_TEST_TMPDIR/in.jsonl"
	run ecom-persist <"$BATS_TEST_TMPDIR/in.jsonl"
	assert_failure 1
	assert_line "ecom-persist: <stdin>:2: missing field 'payload.orderPrice' (skipped)"
	assert_equal "$(store_count ordercreated)" 2
}

@test "ecom-produce -t skips an invalid line and produces the others" {
	orders_with_bad_middle_line 'not json' >"$BATS_TEST_TMPDIR/in.jsonl"
	run bash -c "ecom-produce -t '${ECOM_TOPIC_PREFIX}ordercreated' <'$BATS_TEST_TMPDIR/in.jsonl'"
	assert_failure 1
	assert_line --partial "ecom-produce: <stdin>:2: "
	run bash -c "ecom-consume -t '${ECOM_TOPIC_PREFIX}ordercreated' -e | wc -l"
	assert_output 2
}

@test "an unknown stage is a usage error" {
	run ecom-consume --stage packing
	assert_failure 2
	assert_line "ecom-consume: unknown stage 'packing': expected payment, inventory, shipping or fulfillment"
	assert_line "try 'ecom-consume --help'"
}

@test "an unknown option is a usage error for every command" {
	for cmd in ecom-produce ecom-consume ecom-persist ecom-reconcile ecom-bench; do
		run "$cmd" --no-such-option
		assert_failure 2
		assert_line "$cmd: unknown option '--no-such-option'"
	done
}

@test "a missing option value is a usage error" {
	run ecom-bench -n
	assert_failure 2
	assert_line "ecom-bench: option '-n' needs a value"
}

@test "a config file that does not parse is a config error naming file and line" {
	printf 'brokers: a:1\nwindow: [1,\n' >"$BATS_TEST_TMPDIR/bad.yaml"
	run ecom-persist -c "$BATS_TEST_TMPDIR/bad.yaml" </dev/null
	assert_failure 2
	assert_output --partial "ecom-persist: $BATS_TEST_TMPDIR/bad.yaml:"
	assert_output --partial "not valid YAML"
}

@test "an unknown config key is a config error naming file and line" {
	printf 'brokers: a:1\nwindows: 3\n' >"$BATS_TEST_TMPDIR/bad.yaml"
	run ecom-persist -c "$BATS_TEST_TMPDIR/bad.yaml" </dev/null
	assert_failure 2
	assert_line "ecom-persist: $BATS_TEST_TMPDIR/bad.yaml:2: unknown key 'windows'"
}

@test "a bad environment value is a config error naming the variable" {
	ECOM_WINDOW=zero run ecom-bench -n 1
	assert_failure 2
	assert_line "ecom-bench: environment ECOM_WINDOW: 'window' must be a whole number from 1 to 100000, not 'zero'"
}

@test "an unknown librdkafka property is a config error" {
	run ecom-produce --generate 1 --stdout -X no.such.property=1
	assert_failure 2
	assert_output --partial "ecom-produce: kafka property 'no.such.property': No such configuration property"
}

@test "reading options given to a stage are a usage error" {
	run ecom-consume --stage payment -e
	assert_failure 2
	assert_line "ecom-consume: -o, -e, -n and --envelope go with -t TOPIC, not --stage"
}

@test "an unreachable broker is reported within the timeout with exit 1" {
	# Port 1 on loopback: nothing listens there.
	SECONDS=0
	ECOM_TIMEOUT_MS=2000 run ecom-produce --generate 1 -b 127.0.0.1:1
	assert_failure 1
	assert_output --partial "ecom-produce: cannot reach kafka broker '127.0.0.1:1' within 2000 ms"
	assert [ "$SECONDS" -lt 10 ]
}

@test "an unreachable MongoDB server is reported within the timeout with exit 1" {
	SECONDS=0
	ECOM_TIMEOUT_MS=2000 run ecom-persist --store mongodb://127.0.0.1:1/x </dev/null
	assert_failure 1
	assert_output --partial "ecom-persist: cannot connect to 'mongodb://127.0.0.1:1/x'"
	assert [ "$SECONDS" -lt 10 ]
}

@test "an unreachable PostgreSQL server is reported within the timeout with exit 1" {
	SECONDS=0
	ECOM_TIMEOUT_MS=2000 run ecom-persist --store postgresql://ecom:ecom@127.0.0.1:1/x </dev/null
	assert_failure 1
	assert_output --partial "ecom-persist: cannot connect to 'postgresql://ecom:***@127.0.0.1:1/x'"
	assert [ "$SECONDS" -lt 10 ]
}

@test "an unknown store is a usage error" {
	run ecom-persist --store mysql://localhost/x </dev/null
	assert_failure 2
	assert_output --partial "store 'mysql://localhost/x'"
}

@test "a message that is not an event goes to the dead-letter topic and the stage goes on" {
	good=$(ecom-produce --generate 1 --stdout)
	printf '%s\n' "$good" | ecom-produce -t "${ECOM_TOPIC_PREFIX}ordercreated" 2>/dev/null
	# A bad message between good ones, produced raw (ecom-produce -t refuses it).
	bad='{"eventType": "ordercreated"}'
	start_bg payment ecom-consume --stage payment
	# ecom-produce validates its input, so the bad message goes in through kcat.
	kcat_produce "${ECOM_TOPIC_PREFIX}ordercreated" "$bad"
	printf '%s\n' "$(ecom-produce --generate 1 --stdout)" | ecom-produce -t "${ECOM_TOPIC_PREFIX}ordercreated" 2>/dev/null
	for _ in $(seq 300); do
		[[ "$(store_count ordercreated)" == 2 ]] && break
		sleep 0.1
	done
	assert_equal "$(store_count ordercreated)" 2
	# The dead letter is acknowledged with the batch's other messages,
	# just after the batch is stored.
	for _ in $(seq 100); do
		[[ "$(ecom-consume -t "${ECOM_TOPIC_PREFIX}deadletter" -e 2>/dev/null | wc -l)" == 1 ]] && break
		sleep 0.1
	done
	run bash -c "ecom-consume -t '${ECOM_TOPIC_PREFIX}deadletter' -e --envelope | jq -r '.value.eventType, .headers[\"ecom-error\"], .headers[\"ecom-source-topic\"]'"
	assert_success
	assert_output "ordercreated
missing field 'eventId'
${ECOM_TOPIC_PREFIX}ordercreated"
	run cat "$BATS_TEST_TMPDIR/payment.err"
	assert_output --partial "missing field 'eventId'"
	assert_output --partial "sent to '${ECOM_TOPIC_PREFIX}deadletter'"
	stop_all_bg
}

kcat_produce() {
	printf '%s\n' "$2" | "${KCAT[@]}" -P -t "$1"
}

@test "--envelope leaves out a key that is not UTF-8, as it does a header's value" {
	local topic="${ECOM_TOPIC_PREFIX}keys"
	# Raw bytes through kcat: a text key, a key of bytes 0xff 0xfe, no key;
	# each with a header whose value is not UTF-8 and one that is.
	printf 'k1:{"n":1}\n\xff\xfe:{"n":2}\n' |
		"${KCAT[@]}" -P -t "$topic" -K: -H "bad=$(printf '\xff')" -H good=yes
	printf '{"n":3}\n' | "${KCAT[@]}" -P -t "$topic"
	run --separate-stderr ecom-consume -t "$topic" -e --envelope
	assert_success
	[[ -z "$stderr" ]] || fail "stderr: $stderr"
	run jq -c '[.value.n, has("key"), .key, .headers]' <<<"$output"
	assert_success
	assert_output '[1,true,"k1",{"good":"yes"}]
[2,false,null,{"good":"yes"}]
[3,true,null,{}]'
}

@test "run-flow.sh rejects an unknown option with exit 2" {
	run "$ECOM_SRCDIR/scripts/run-flow.sh" --frobnicate
	assert_failure 2
	assert_output --partial "run-flow: unknown option '--frobnicate'"
}

@test "properties librdkafka refuses only when it makes a client are config errors too" {
	run ecom-produce --generate 1 -X security.protocol=ssl -X ssl.ca.location=/nonexistent
	assert_failure 2
	assert_output --partial "ecom-produce: kafka configuration: ssl.ca.location failed"
	run ecom-produce --generate 1 -X sasl.mechanism=NOPE
	assert_failure 2
	assert_line "ecom-produce: kafka property 'sasl.mechanism=NOPE': expected GSSAPI, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
}

@test "a PostgreSQL URI libpq would refuse only when connecting is a config error" {
	run ecom-persist --store postgresql://h:notaport/x </dev/null
	assert_failure 2
	assert_line "ecom-persist: 'store': not a valid PostgreSQL URI: invalid port 'notaport'"
	ECOM_POSTGRES_URI='postgresql://u:p%zz@h/x' run ecom-persist --store postgresql </dev/null
	assert_failure 2
	assert_line "ecom-persist: 'postgres_uri': not a valid PostgreSQL URI: invalid percent-encoded token: \"***\""
}

@test "a misspelt secret property is refused without its value" {
	run ecom-produce --generate 1 --stdout -X sasl.pasword=hunter2hunter2
	assert_failure 2
	assert_output --partial "ecom-produce: kafka property 'sasl.pasword': No such configuration property"
	refute_output --partial "hunter2"
}

@test "ecom-bench --store takes a URI whole, commas and all" {
	# A replica-set URI: two hosts, one store.  Nothing listens there.
	ECOM_TIMEOUT_MS=1000 run --separate-stderr ecom-bench -n 1 --store 'mongodb://127.0.0.1:1,127.0.0.1:2/x'
	assert_failure 1
	assert_equal "$(echo "$stderr" | grep -c ': 1 orders, window 1')" 1
	assert_output --partial '"store":"mongodb://127.0.0.1:1,127.0.0.1:2/x"'
}

@test "ecom-bench --compare keeps the report of a finished run when a later one fails" {
	require_stack postgresql
	ECOM_TIMEOUT_MS=1000 run --separate-stderr ecom-bench -n 2 --floor-samples 1 --no-progress \
		--compare postgresql --compare 'postgresql://ecom:x@127.0.0.1:1/x'
	assert_failure 1
	assert_equal "$(echo "$output" | jq -s 'map(select(.complete)) | length')" 1
	echo "$output" | jq -se '.[0].store == "postgresql" and .[0].orders == 2' >/dev/null
	assert_equal "${stderr##*$'\n'}" "ecom-bench: cannot connect to 'postgresql://ecom:***@127.0.0.1:1/x': connection to server at \"127.0.0.1\", port 1 failed: Connection refused Is the server running on that host and accepting TCP/IP connections?"
}
