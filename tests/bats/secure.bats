#!/usr/bin/env bats
# The secure dev stack (devstack.sh up --secure): the flow runs on it as
# it does on the plain one, and every connection it refuses (a wrong
# password, an unknown SASL mechanism, an untrusted or expired
# certificate, a host name the certificate does not carry, a server that
# asks for a client certificate, plaintext against a TLS-only listener)
# ends in exit 1 within 15 s, with a message naming the endpoint and what
# to check, and no password in any output.  No password of the stack is
# ever on a command line, while it starts or runs.
#
# The file brings up its own secure stack, in its own state dir
# (ECOM_SECURE_DEVSTACK_DIR, default /tmp/ecom-devstack-secure-UID-PID:
# under /tmp so that PostgreSQL's user can reach it), and takes it down
# at the end.  Its MongoDB-protocol server is mongo-java-server (memory:
# TLS, no authentication), or the one ECOM_SECURE_MONGO_SERVER names
# (memory, h2 or ferretdb: FerretDB gives TLS and SCRAM); scripts/test.sh
# --secure --mongo-server KIND sets it.  The mongodb cases test what the
# server gives: a refused login on FerretDB, none asked on mongo-java-server.

load helpers

# Like the other integration tests, it runs when a dev stack is there or
# asked for (ECOM_REQUIRE_STACK=1), and skips otherwise (in setup: a skip
# in setup_file is reported as a failure of teardown_file).
wanted() { [[ -n "${ECOM_KAFKA_BROKERS:-}" || "${ECOM_REQUIRE_STACK:-0}" == 1 ]]; }

# Shims for the commands devstack.sh runs that could be given a secret
# (java, openssl, runuser for psql, initdb and pg_ctl, kcat, keytool):
# each writes its command line to $BATS_FILE_TMPDIR/argv.log and runs the
# real one, so that the test can look for the passwords in every command
# line `up` ran, the short-lived ones too.
make_argv_shims() {
	local dir=$BATS_FILE_TMPDIR/shims name real
	mkdir -p "$dir"
	for name in java openssl runuser kcat keytool psql; do
		real=$(command -v "$name") || continue
		# shellcheck disable=SC2016 # the shim's own $0 and $@
		printf '#!/bin/sh\nprintf "%%s " "$0" "$@" >>"%s"\necho >>"%s"\nexec "%s" "$@"\n' \
			"$BATS_FILE_TMPDIR/argv.log" "$BATS_FILE_TMPDIR/argv.log" "$real" >"$dir/$name"
		chmod +x "$dir/$name"
	done
	printf '%s' "$dir"
}

setup_file() {
	wanted || return 0
	export SEC_DIR=${ECOM_SECURE_DEVSTACK_DIR:-/tmp/ecom-devstack-secure-$(id -u)-$$}
	export MONGO_KIND=${ECOM_SECURE_MONGO_SERVER:-memory}
	local env_out shims
	shims=$(make_argv_shims)
	env_out=$(PATH="$shims:$PATH" ECOM_DEVSTACK_DIR="$SEC_DIR" ECOM_MONGO_SERVER="$MONGO_KIND" \
		"$ECOM_SRCDIR/scripts/devstack.sh" up --secure 2>"$BATS_FILE_TMPDIR/up.err") || {
		ECOM_DEVSTACK_DIR="$SEC_DIR" "$ECOM_SRCDIR/scripts/devstack.sh" down 2>/dev/null
		fail "the secure stack did not come up: $(cat "$BATS_FILE_TMPDIR/up.err")"
	}
	(umask 077 && printf '%s\n' "$env_out" >"$BATS_FILE_TMPDIR/env")
	# another CA, which signed nothing of the stack's: "untrusted"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$BATS_FILE_TMPDIR/other-ca.key" -out "$BATS_FILE_TMPDIR/other-ca.crt" \
		-days 2 -subj "/CN=not the stack's CA" >/dev/null 2>&1 || fail "openssl could not make a CA"
}

teardown_file() {
	[[ -n "${SEC_DIR:-}" ]] || return 0
	ECOM_DEVSTACK_DIR="$SEC_DIR" "$ECOM_SRCDIR/scripts/devstack.sh" down 2>/dev/null || true
	ECOM_DEVSTACK_DIR="$SEC_DIR-plain" "$ECOM_SRCDIR/scripts/devstack.sh" down 2>/dev/null || true
}

# A plain PostgreSQL beside the secure stack (no TLS at all), once: its
# URI, with its password, in PLAIN_PG_URI
plain_postgresql() {
	local env_out
	env_out=$(ECOM_DEVSTACK_DIR="$SEC_DIR-plain" ECOM_DEVSTACK_SECURE=0 \
		"$ECOM_SRCDIR/scripts/devstack.sh" up postgresql 2>"$BATS_TEST_TMPDIR/plain-up.err") ||
		fail "the plain postgresql did not come up: $(cat "$BATS_TEST_TMPDIR/plain-up.err")"
	PLAIN_PG_URI=$(eval "$env_out" && printf '%s' "$ECOM_POSTGRES_URI")
}

setup() {
	wanted || skip "no dev stack (ECOM_KAFKA_BROKERS unset, ECOM_REQUIRE_STACK not 1)"
	# the secure stack's settings replace any plain stack's
	eval "$(cat "$BATS_FILE_TMPDIR/env")"
	KAFKA_PASSWORD=$(sed -n 's/^KAFKA_PASSWORD=//p' "$SEC_DIR/secrets.env")
	PG_PASSWORD=$(sed -n 's/^PG_PASSWORD=//p' "$SEC_DIR/secrets.env")
	MONGO_PASSWORD=$(sed -n 's/^MONGO_PASSWORD=//p' "$SEC_DIR/secrets.env")
	KAFKA_PORT=${ECOM_KAFKA_BROKERS##*:}
	PG_PORT=$(sed -n 's/^PG_PORT=//p' "$SEC_DIR/ports.env")
	MONGO_PORT=$(sed -n 's/^MONGO_PORT=//p' "$SEC_DIR/ports.env")
	KAFKA_EXPIRED_PORT=$(sed -n 's/^KAFKA_EXPIRED_PORT=//p' "$SEC_DIR/ports.env")
	KAFKA_CLIENTCERT_PORT=$(sed -n 's/^KAFKA_CLIENTCERT_PORT=//p' "$SEC_DIR/ports.env")
	CA=$SEC_DIR/tls/ca.crt
	isolate_test mongodb
	# libpq would look for a CA in ~/.postgresql: none here
	export HOME=$BATS_TEST_TMPDIR
}

# A test that changed the stack's PostgreSQL (its certificate, pg_hba.conf)
# puts it back, whether it passed or not.
teardown() {
	if [[ -e $BATS_TEST_TMPDIR/pg-changed ]]; then pg_restore; fi
}

# PostgreSQL's tools, as the server's user (devstack runs it as postgres
# when root)
pg_bin() { printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }
as_pg_user() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_super() { # sql: as the superuser, over the stack's socket (trust)
	as_pg_user "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$SEC_DIR/postgres/run" -p "$PG_PORT" \
		-U postgres -d postgres -c "$1"
}
pg_reload() { as_pg_user "$(pg_bin)/pg_ctl" reload -D "$SEC_DIR/postgres/data" >/dev/null; }

# until "$@" succeeds, for up to 30 s (a reload is asynchronous)
wait_until() {
	local deadline=$((SECONDS + 30))
	until "$@"; do
		((SECONDS < deadline)) || fail "not within 30 s: $*"
		sleep 0.2
	done
}

# openssl's own verdict on the certificate PostgreSQL serves, checked
# against the stack's CA (the oracle: not ecom's words)
pg_served_verdict() { # "Verify return code: N (...)"
	openssl s_client -starttls postgres -connect "localhost:$PG_PORT" -CAfile "$CA" \
		-verify_hostname localhost </dev/null 2>/dev/null | grep -q "Verify return code: $1"
}

pg_restore() {
	install -m 0644 "$SEC_DIR/tls/server.crt" "$SEC_DIR/postgres/server.crt"
	if [[ -e $BATS_TEST_TMPDIR/pg_hba.conf ]]; then cp "$BATS_TEST_TMPDIR/pg_hba.conf" "$SEC_DIR/postgres/data/pg_hba.conf"; fi
	if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$SEC_DIR/postgres/server.crt" "$SEC_DIR/postgres/data/pg_hba.conf"; fi
	pg_super "ALTER SYSTEM RESET ssl_ca_file"
	pg_reload
	wait_until pg_served_verdict "0 (ok)"
	rm -f "$BATS_TEST_TMPDIR/pg-changed"
}

# run "$@" with stdout and stderr apart, and its time in SECONDS_TAKEN
run_timed() {
	local t0 t1
	t0=$(date +%s%N)
	run --separate-stderr timeout 60 "$@"
	t1=$(date +%s%N)
	SECONDS_TAKEN=$(((t1 - t0) / 1000000000))
}

# ecom-bench -n 1 against the PostgreSQL URI given, in the environment:
# a URI with the stack's password never goes on a command line, where
# anyone on the machine could read it in ps.
bench_pg_timed() { # uri
	ECOM_STORE=postgresql ECOM_POSTGRES_URI=$1 run_timed ecom-bench -n 1 --no-progress
}
bench_mongo_timed() { # uri
	ECOM_STORE=mongodb ECOM_MONGODB_URI=$1 run_timed ecom-bench -n 1 --no-progress
}

# A refused connection: exit 1, in less than 15 s, the message, and none
# of the stack's passwords (nor the wrong one tried) in any output.
assert_refused() { # message-regexp
	[[ $status -eq 1 ]] || fail "exit $status, not 1: $stderr"
	((SECONDS_TAKEN < 15)) || fail "took ${SECONDS_TAKEN}s: $stderr"
	echo "$stderr" | grep -qE -- "$1" || fail "no /$1/ in: $stderr"
	assert_no_secret "$output$stderr"
}

assert_no_secret() {
	local secret
	for secret in "$KAFKA_PASSWORD" "$PG_PASSWORD" "$MONGO_PASSWORD" wrongPassw0rd; do
		[[ $1 != *"$secret"* ]] || fail "a password in the output: $1"
	done
}

# every file run-flow.sh left (stage logs, the report), which must exist
assert_no_secret_in_files() {
	local secret n
	n=$(find "$1" -type f | wc -l)
	((n > 0)) || fail "no files in $1"
	for secret in "$KAFKA_PASSWORD" "$PG_PASSWORD" "$MONGO_PASSWORD"; do
		if grep -rlF -- "$secret" "$1"; then fail "a password in the files above"; fi
	done
}

@test "secure stack: status says secure, the secrets are 0600, env gives ECOM_CONFIG and TLS URIs" {
	ECOM_DEVSTACK_DIR="$SEC_DIR" run --separate-stderr "$ECOM_SRCDIR/scripts/devstack.sh" status
	assert_success
	local mongo_gives="mongodb TLS only, no authentication \(mongo-java-server has none\)"
	if [[ $MONGO_KIND == ferretdb ]]; then
		mongo_gives="mongodb TLS only, SCRAM-SHA-256 or SCRAM-SHA-1, user ecom \(FerretDB\)"
	fi
	echo "$output" | grep -qE "^security +secure: kafka SASL_SSL only, SCRAM-SHA-512 or PLAIN; $mongo_gives; postgresql hostssl only, scram-sha-256;" ||
		fail "no security line: $output"
	assert_no_secret "$output$stderr"
	assert_equal "$(stat -c %a "$SEC_DIR/secrets.env")" 600
	assert_equal "$(stat -c %a "$ECOM_CONFIG")" 600
	assert_equal "$ECOM_KAFKA_BROKERS" "localhost:$KAFKA_PORT"
	if [[ $MONGO_KIND == ferretdb ]]; then
		assert_equal "$(stat -c %a "$SEC_DIR/mongodb/auth.pw")" 600
		[[ -n $MONGO_PASSWORD ]]
		[[ $ECOM_MONGODB_URI == "mongodb://ecom:$MONGO_PASSWORD@localhost:$MONGO_PORT/ecommerce?tls=true&tlsCAFile=$CA&authSource=admin" ]]
	else
		[[ $ECOM_MONGODB_URI == "mongodb://localhost:$MONGO_PORT/ecommerce?tls=true&tlsCAFile=$CA" ]]
	fi
	[[ $ECOM_POSTGRES_URI == "postgresql://ecom:$PG_PASSWORD@localhost:$PG_PORT/ecommerce?sslmode=verify-full&sslrootcert=$CA" ]]
	# what the stack's own probes see: kcat with and without the settings
	kcat -L -F "$SEC_DIR/kcat.conf" -b "$ECOM_KAFKA_BROKERS" -m 5 >/dev/null
	run kcat -L -b "$ECOM_KAFKA_BROKERS" -m 3
	assert_failure
}

@test "secure stack: -X dump shows the SASL_SSL settings from ECOM_CONFIG, the password as ***" {
	run --separate-stderr ecom-bench -X dump
	assert_success
	assert_output --partial 'security.protocol: "SASL_SSL"'
	assert_output --partial 'sasl.password: "***"'
	assert_no_secret "$output$stderr"
}

@test "secure stack: ecom-bench -n 200 on both stores, exact counts, clean audits" {
	run --separate-stderr timeout 600 ecom-bench --compare mongodb,postgresql -n 200 --floor-samples 5 --no-progress
	assert_success
	# a login where the server asks for one (FerretDB), none otherwise
	local mongo_auth=none
	if [[ $MONGO_KIND == ferretdb ]]; then mongo_auth="SCRAM (negotiated)"; fi
	echo "$output" | jq -se '[.[].store] == ["mongodb", "postgresql"] and all(.[]; .orders == 200 and .complete)' >/dev/null ||
		fail "$output"
	assert_no_secret "$output$stderr"
	# every report says what each connection gives
	echo "$output" | jq -se --arg mongo_auth "$mongo_auth" 'all(.[].connections.kafka;
		.encrypted and .certificate_verified and .host_name_checked and .authentication == "SCRAM-SHA-512")
		and all(.[].connections.store; .encrypted and .certificate_verified and .host_name_checked)
		and .[0].connections.store.authentication == $mongo_auth
		and .[1].connections.store == {"encrypted": true, "certificate_verified": true,
			"host_name_checked": true, "authentication": "password", "tls_version": .[1].connections.store.tls_version,
			"from": "the connection"}
		and (.[1].connections.store.tls_version | startswith("TLSv1."))' >/dev/null ||
		fail "connections: $(echo "$output" | jq -c .connections)"
	ECOM_STORE=mongodb assert_exactly_n_orders 200
	ECOM_STORE=postgresql assert_exactly_n_orders 200
}

@test "secure stack: run-flow.sh -n 200 on MongoDB, exact counts, clean audit" {
	ECOM_RUN_DIR=$BATS_TEST_TMPDIR/run run --separate-stderr timeout 600 "$ECOM_SRCDIR/scripts/run-flow.sh" -n 200 --store mongodb
	assert_success
	echo "$output" | jq -e '.orders == 200' >/dev/null || fail "$output"
	assert_no_secret "$output$stderr"
	assert_no_secret_in_files "$BATS_TEST_TMPDIR/run"
	ECOM_STORE=mongodb assert_exactly_n_orders 200
}

@test "secure stack: run-flow.sh -n 200 on PostgreSQL, exact counts, clean audit" {
	export ECOM_STORE=postgresql
	ECOM_RUN_DIR=$BATS_TEST_TMPDIR/run run --separate-stderr timeout 600 "$ECOM_SRCDIR/scripts/run-flow.sh" -n 200 --store postgresql
	assert_success
	assert_no_secret_in_files "$BATS_TEST_TMPDIR/run"
	echo "$output" | jq -e '.orders == 200' >/dev/null || fail "$output"
	# ecom-reconcile --drive's report, which run-flow.sh prints, has the connections
	echo "$output" | jq -e '.connections.kafka.encrypted and .connections.kafka.authentication == "SCRAM-SHA-512"
		and .connections.store.encrypted and .connections.store.host_name_checked
		and .connections.store.from == "the connection"' >/dev/null || fail "$output"
	assert_no_secret "$output$stderr"
	assert_exactly_n_orders 200
}

@test "kafka: a wrong password is a refused login at once" {
	run_timed ecom-bench -n 1 --no-progress -X sasl.password=wrongPassw0rd
	assert_refused "kafka broker 'localhost:$KAFKA_PORT' refused the login \(sasl_ssl, mechanism SCRAM-SHA-512, user 'ecom'\): .*invalid credentials.*: check sasl.username, sasl.password and sasl.mechanism"
}

@test "kafka: a wrong user is a refused login at once" {
	run_timed ecom-bench -n 1 --no-progress -X sasl.username=nobody
	assert_refused "refused the login \(sasl_ssl, mechanism SCRAM-SHA-512, user 'nobody'\)"
}

@test "kafka: a SASL mechanism the broker does not offer is refused at once" {
	run_timed ecom-bench -n 1 --no-progress -X sasl.mechanism=SCRAM-SHA-256
	assert_refused "refused the login \(sasl_ssl, mechanism SCRAM-SHA-256, user 'ecom'\): .*Unsupported SASL mechanism: broker's supported mechanisms: SCRAM-SHA-512,PLAIN"
}

@test "kafka: a certificate from another CA is refused" {
	run_timed ecom-bench -n 1 --no-progress -X ssl.ca.location="$BATS_FILE_TMPDIR/other-ca.crt"
	assert_refused "TLS with kafka broker 'localhost:$KAFKA_PORT' failed \(sasl_ssl\): .*certificate verify failed.*: check ssl.ca.location"
}

@test "kafka: without a CA the broker's certificate is not trusted" {
	grep -v ssl.ca.location "$ECOM_CONFIG" >"$BATS_TEST_TMPDIR/no-ca.yaml"
	ECOM_CONFIG=$BATS_TEST_TMPDIR/no-ca.yaml run_timed ecom-bench -n 1 --no-progress
	assert_refused "TLS with kafka broker 'localhost:$KAFKA_PORT' failed .*certificate verify failed"
}

@test "kafka: a host name the certificate does not carry is refused" {
	run_timed ecom-bench -n 1 --no-progress -b "127.0.0.1:$KAFKA_PORT"
	assert_refused "TLS with kafka broker '127.0.0.1:$KAFKA_PORT' failed .*certificate verify failed.*names the host you connect to"
}

@test "kafka: a broker certificate that has expired is refused, and said to have expired" {
	# the listener's certificate has expired, by openssl's verdict
	openssl s_client -connect "localhost:$KAFKA_EXPIRED_PORT" -CAfile "$CA" -verify_hostname localhost \
		</dev/null 2>/dev/null | grep -q "Verify return code: 10 (certificate has expired)" ||
		fail "the listener on $KAFKA_EXPIRED_PORT does not serve an expired certificate"
	run_timed ecom-bench -n 1 --no-progress -b "localhost:$KAFKA_EXPIRED_PORT"
	assert_refused "TLS with kafka broker 'localhost:$KAFKA_EXPIRED_PORT' failed \(sasl_ssl\): .*certificate verify failed.*: the server's certificate has expired \(not valid after [A-Z][a-z]{2} .* GMT\): it must be renewed on the server"
	# a certificate from another CA is still said to be that, not expired
	run_timed ecom-bench -n 1 --no-progress -X ssl.ca.location="$BATS_FILE_TMPDIR/other-ca.crt"
	[[ $stderr != *"has expired"* ]] || fail "$stderr"
}

@test "kafka: a broker that asks for a client certificate, when none is given, says to give one" {
	run_timed ecom-bench -n 1 --no-progress -b "localhost:$KAFKA_CLIENTCERT_PORT"
	assert_refused "TLS with kafka broker 'localhost:$KAFKA_CLIENTCERT_PORT' failed \(sasl_ssl\): .*alert bad certificate.*: the broker asks for a client certificate and none was given: set ssl.certificate.location and ssl.key.location"
}

@test "kafka: plaintext against the SASL_SSL listener says to check security.protocol" {
	run_timed ecom-bench -n 1 --no-progress -X security.protocol=PLAINTEXT
	assert_refused "kafka broker 'localhost:$KAFKA_PORT' closed the connection before answering \(security.protocol plaintext\): .*check that security.protocol is what the broker's listener speaks"
}

@test "postgresql: a wrong password is a refused login at once" {
	run_timed ecom-bench -n 1 --no-progress \
		--store "postgresql://ecom:wrongPassw0rd@localhost:$PG_PORT/ecommerce?sslmode=verify-full&sslrootcert=$CA"
	assert_refused "cannot connect to 'postgresql://ecom:\*\*\*@localhost:$PG_PORT/.*password authentication failed for user \"ecom\": check the user and password in the URI"
}

@test "postgresql: a certificate from another CA is refused" {
	bench_pg_timed "postgresql://ecom:$PG_PASSWORD@localhost:$PG_PORT/ecommerce?sslmode=verify-full&sslrootcert=$BATS_FILE_TMPDIR/other-ca.crt"
	assert_refused "cannot connect to 'postgresql://ecom:\*\*\*@localhost:$PG_PORT/.*certificate verify failed.*give the CA that signed the server's certificate as sslrootcert"
}

@test "postgresql: a server certificate that has expired is refused, and said to have expired" {
	# the same key and host name, the same CA, but expired yesterday
	touch "$BATS_TEST_TMPDIR/pg-changed"
	install -m 0644 "$SEC_DIR/tls/expired.crt" "$SEC_DIR/postgres/server.crt"
	if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$SEC_DIR/postgres/server.crt"; fi
	pg_reload
	wait_until pg_served_verdict "10 (certificate has expired)"
	bench_pg_timed "$ECOM_POSTGRES_URI"
	assert_refused "cannot connect to 'postgresql://ecom:\*\*\*@localhost:$PG_PORT/.*SSL error: certificate verify failed: the server's certificate has expired \(not valid after [A-Z][a-z]{2} .* GMT\): it must be renewed on the server"
	pg_restore
	# and back: the same URI connects
	ECOM_STORE=postgresql run --separate-stderr timeout 120 ecom-bench -n 1 --floor-samples 1 --no-progress
	assert_success
}

@test "postgresql: a server that asks for a client certificate, when none is given, says to give one" {
	# pg_hba.conf: a database of its own asks for one (clientcert needs the
	# server to know a CA: ssl_ca_file); the others are as they were
	touch "$BATS_TEST_TMPDIR/pg-changed"
	cp "$SEC_DIR/postgres/data/pg_hba.conf" "$BATS_TEST_TMPDIR/pg_hba.conf"
	{
		echo "hostssl clientcert_only all 127.0.0.1/32 scram-sha-256 clientcert=verify-full"
		cat "$BATS_TEST_TMPDIR/pg_hba.conf"
	} >"$SEC_DIR/postgres/data/pg_hba.conf"
	pg_super "ALTER SYSTEM SET ssl_ca_file = '$CA'"
	pg_reload
	# psql, not ecom, says when the server asks
	wait_until eval "psql -X -w 'postgresql://ecom@localhost:$PG_PORT/clientcert_only?sslmode=verify-full&sslrootcert=$CA' -c 'select 1' 2>&1 | grep -q 'requires a valid client certificate'"
	bench_pg_timed "postgresql://ecom:$PG_PASSWORD@localhost:$PG_PORT/clientcert_only?sslmode=verify-full&sslrootcert=$CA"
	assert_refused "cannot connect to 'postgresql://ecom:\*\*\*@localhost:$PG_PORT/clientcert_only.*connection requires a valid client certificate: TLS: the server asks for a client certificate: give sslcert=FILE and sslkey=FILE in the URI"
	pg_restore
}

@test "no password of the stack on any command line: while up ran, and while it runs" {
	# every command the shims saw while the stack came up (setup_file)
	[[ -s $BATS_FILE_TMPDIR/argv.log ]] || fail "the shims saw no command"
	grep -q "StorageTool\|@.*format.args" "$BATS_FILE_TMPDIR/argv.log" || fail "no kafka format seen: $(cat "$BATS_FILE_TMPDIR/argv.log")"
	grep -q "psql" "$BATS_FILE_TMPDIR/argv.log" || fail "no psql seen"
	local secret
	for secret in "$KAFKA_PASSWORD" "$PG_PASSWORD" "$MONGO_PASSWORD" "$(sed -n 's/^KEYSTORE_PASSWORD=//p' "$SEC_DIR/secrets.env")"; do
		[[ -n $secret ]] || fail "a password of the stack is empty"
		if grep -nF -- "$secret" "$BATS_FILE_TMPDIR/argv.log" >/dev/null; then fail "a password on a command line during up"; fi
	done
	# the stack's running processes (their command lines name its dir)
	local f n=0 cmd
	for f in /proc/[0-9]*/cmdline; do
		cmd=$(tr '\0' ' ' <"$f" 2>/dev/null) || continue
		[[ $cmd == *"$SEC_DIR"* ]] || continue
		n=$((n + 1))
		for secret in "$KAFKA_PASSWORD" "$PG_PASSWORD" "$MONGO_PASSWORD"; do
			[[ $cmd != *"$secret"* ]] || fail "a password on the command line of ${f%/cmdline}"
		done
	done
	((n >= 3)) || fail "found $n processes of the stack, not the 3 servers"
}

@test "postgresql: verify-full without a CA says where to give one" {
	bench_pg_timed "postgresql://ecom:$PG_PASSWORD@localhost:$PG_PORT/ecommerce?sslmode=verify-full"
	assert_refused "root certificate file .* does not exist.*sslrootcert=FILE"
}

@test "postgresql: a host name the certificate does not carry is refused" {
	bench_pg_timed "postgresql://ecom:$PG_PASSWORD@127.0.0.1:$PG_PORT/ecommerce?sslmode=verify-full&sslrootcert=$CA"
	assert_refused "does not match host name \"127.0.0.1\": TLS: connect by a host name the server's certificate carries"
}

@test "postgresql: plaintext against hostssl only is refused with what to add" {
	bench_pg_timed "postgresql://ecom:$PG_PASSWORD@localhost:$PG_PORT/ecommerce?sslmode=disable"
	assert_refused "no pg_hba.conf entry .*no encryption: the server takes TLS connections only: add sslmode=verify-full"
}

@test "mongodb: without the stack's CA the server's certificate is not trusted" {
	run_timed ecom-bench -n 1 --no-progress --store "mongodb://localhost:$MONGO_PORT/ecommerce?tls=true"
	assert_refused "cannot connect to 'mongodb://localhost:$MONGO_PORT/.*certificate verify failed.*give the CA that signed the server's certificate as tlsCAFile"
}

@test "mongodb: a host name the certificate does not carry is refused" {
	run_timed ecom-bench -n 1 --no-progress --store "mongodb://127.0.0.1:$MONGO_PORT/ecommerce?tls=true&tlsCAFile=$CA"
	assert_refused "mismatch.*: TLS: connect by a host name the server's certificate carries"
}

@test "mongodb: plaintext against the TLS-only server says to add tls=true" {
	run_timed ecom-bench -n 1 --no-progress --store "mongodb://localhost:$MONGO_PORT/ecommerce"
	assert_refused "Server closed connection.*add tls=true and tlsCAFile=FILE"
	# with a login the driver says it in other words (FerretDB): the same advice
	run_timed ecom-bench -n 1 --no-progress --store "mongodb://ecom:wrongPassw0rd@localhost:$MONGO_PORT/ecommerce?authSource=admin"
	assert_refused "cannot connect to 'mongodb://ecom:\*\*\*@localhost:$MONGO_PORT/.*(Server closed connection|connection closed).*: if the server takes TLS connections only, add tls=true and tlsCAFile=FILE to the URI"
}

# Two orders in this test's database, written with the stack's own URI:
# a refused login must leave them as they are, and add nothing.
store_marker() {
	ecom-produce --generate 2 --stdout | ecom-persist -q >/dev/null
	assert_store_marker_untouched
}
assert_store_marker_untouched() {
	assert_equal "$(store_count ordercreated)" 2
	assert_equal "$(store_count orderfulfilled)" 0
}

# What the server gives for logins.  FerretDB asks for one: a wrong
# password or user is a refused login at once, none at all is refused at
# the first command that needs one, and nothing is written either way.
# mongo-java-server asks for none (it has no authentication): the URI
# without a user runs the flow, and one with a user is refused (it has no
# saslStart).
@test "mongodb: a wrong password or user is a refused login at once (FerretDB); mongo-java-server asks for none" {
	local tls="localhost:$MONGO_PORT/ecommerce?tls=true&tlsCAFile=$CA"
	if [[ $MONGO_KIND != ferretdb ]]; then
		run --separate-stderr timeout 120 ecom-bench -n 5 --floor-samples 1 --no-progress --store "mongodb://$tls"
		assert_success
		echo "$output" | jq -e '.orders == 5 and .complete and .connections.store.authentication == "none"' >/dev/null ||
			fail "$output"
		return 0
	fi
	store_marker
	tls+="&authSource=admin"
	run_timed ecom-bench -n 1 --no-progress --store "mongodb://ecom:wrongPassw0rd@$tls"
	assert_refused "cannot connect to 'mongodb://ecom:\*\*\*@localhost:$MONGO_PORT/.*Authentication failed: check the user, password and authSource in the URI"
	bench_mongo_timed "mongodb://nobody:$MONGO_PASSWORD@$tls"
	assert_refused "cannot connect to 'mongodb://nobody:\*\*\*@localhost:$MONGO_PORT/.*Authentication failed: check the user, password and authSource in the URI"
	# the right user and password, but in a database it is not in: the
	# URI's own, without authSource
	bench_mongo_timed "mongodb://ecom:$MONGO_PASSWORD@localhost:$MONGO_PORT/ecommerce?tls=true&tlsCAFile=$CA"
	assert_refused "Authentication failed: check the user, password and authSource in the URI"
	assert_store_marker_untouched
}

@test "mongodb: no login against FerretDB is refused at the first command that needs one, saying to give one; a login against mongo-java-server, that it has none" {
	store_marker
	if [[ $MONGO_KIND != ferretdb ]]; then
		# mongo-java-server has no authentication: a login given is refused
		run_timed ecom-bench -n 1 --no-progress --store "mongodb://ecom:wrongPassw0rd@localhost:$MONGO_PORT/ecommerce?tls=true&tlsCAFile=$CA"
		assert_refused "cannot connect to 'mongodb://ecom:\*\*\*@localhost:$MONGO_PORT/.*no such command: 'saslStart': the server has no authentication: give no user and password in the URI"
		assert_store_marker_untouched
		return 0
	fi
	run_timed ecom-bench -n 1 --no-progress --store "mongodb://localhost:$MONGO_PORT/ecommerce?tls=true&tlsCAFile=$CA"
	assert_refused "cannot create the index on eventId of 'ordercreated' in 'mongodb://localhost:$MONGO_PORT/.*': Command createIndexes requires authentication: the server asks for a login: give user:password@ in the URI"
	# FerretDB's own verdict, not ecom's: its log names the refused command
	grep -q "checkSCRAMConversation: no conversation" "$SEC_DIR/mongodb/ferretdb.log" ||
		fail "FerretDB logged no refused conversation: $(tail -5 "$SEC_DIR/mongodb/ferretdb.log")"
	assert_store_marker_untouched
}

@test "postgresql: sslmode=prefer falling back to plaintext with a CA given is said once, and the report says it" {
	plain_postgresql
	# over loopback the plain stack's password travels nowhere: no warning
	run --separate-stderr timeout 120 ecom-bench -n 5 --floor-samples 1 --no-progress --store "$PLAIN_PG_URI"
	assert_success
	refute_output --partial "NOT encrypted"
	[[ $stderr != *"NOT encrypted"* ]] || fail "$stderr"
	echo "$output" | jq -e '.connections.store.encrypted == false' >/dev/null || fail "$output"
	# a CA given, no sslmode: libpq's prefer falls back, and that is said
	run --separate-stderr timeout 120 ecom-bench -n 5 --floor-samples 1 --no-progress \
		--store "$PLAIN_PG_URI?sslrootcert=$CA"
	assert_success
	assert_equal "$(grep -c "is NOT encrypted although a password, CA or client certificate was given" <<<"$stderr")" 1
	grep -q "set require_tls: true to refuse" <<<"$stderr" || fail "$stderr"
	echo "$output" | jq -e '.connections.store == {"encrypted": false, "certificate_verified": false,
		"host_name_checked": false, "authentication": "password", "from": "the connection"}' >/dev/null ||
		fail "$output"
}

@test "require_tls: a PostgreSQL URI that may fall back to plaintext is refused before connecting" {
	plain_postgresql
	ECOM_REQUIRE_TLS=true run_timed ecom-bench -n 5 --no-progress --store "$PLAIN_PG_URI"
	[[ $status -eq 2 ]] || fail "exit $status, not 2: $stderr"
	((SECONDS_TAKEN < 15)) || fail "took ${SECONDS_TAKEN}s"
	grep -q "require_tls: the store's URI allows an unencrypted connection: add sslmode=verify-full and sslrootcert=FILE" <<<"$stderr" ||
		fail "$stderr"
	assert_no_secret "$output$stderr"
}

@test "require_tls, --require-tls: a MongoDB URI without tls=true and Kafka without TLS are refused" {
	ECOM_REQUIRE_TLS=1 run_timed ecom-bench -n 5 --no-progress --store "mongodb://localhost:$MONGO_PORT/ecommerce"
	[[ $status -eq 2 ]] || fail "exit $status, not 2: $stderr"
	grep -q "require_tls: the store's URI allows an unencrypted connection: add tls=true" <<<"$stderr" || fail "$stderr"
	run_timed ecom-bench -n 5 --no-progress --require-tls -X security.protocol=SASL_PLAINTEXT
	[[ $status -eq 2 ]] || fail "exit $status, not 2: $stderr"
	grep -q "require_tls: kafka's security.protocol is SASL_PLAINTEXT, which is not encrypted: use SSL or SASL_SSL" <<<"$stderr" ||
		fail "$stderr"
	assert_no_secret "$output$stderr"
}

@test "kafka: a SASL password over SASL_PLAINTEXT is said once, then the TLS listener refuses it" {
	run_timed ecom-bench -n 1 --no-progress -X security.protocol=SASL_PLAINTEXT
	assert_refused "closed the connection before answering \(security.protocol sasl_plaintext\)"
	assert_equal "$(grep -c "kafka: the SASL password goes unencrypted (security.protocol SASL_PLAINTEXT)" <<<"$stderr")" 1
}

@test "require_tls: true on the secure stack runs the flow" {
	ECOM_REQUIRE_TLS=true run --separate-stderr timeout 300 ecom-bench --compare mongodb,postgresql -n 20 --floor-samples 1 --no-progress
	assert_success
	echo "$output" | jq -se 'all(.[]; .orders == 20 and .complete and .connections.store.encrypted)' >/dev/null || fail "$output"
	ECOM_REQUIRE_TLS=true run --separate-stderr ecom-bench -X dump
	assert_output --partial "require_tls: true"
	assert_output --partial "# connections, as the settings ask (require_tls: true):"
}

# README's and ecom(7)'s "Connecting to managed services", tried here.
@test "managed services: Kafka SASL_SSL with PLAIN, Confluent Cloud's form, runs the flow" {
	(umask 077 && cat >"$BATS_TEST_TMPDIR/plain.yaml" <<YAML
kafka:
  security.protocol: SASL_SSL
  sasl.mechanism: PLAIN
  sasl.username: ecom
  sasl.password: $KAFKA_PASSWORD
  ssl.ca.location: $CA
YAML
	)
	ECOM_CONFIG=$BATS_TEST_TMPDIR/plain.yaml run --separate-stderr timeout 300 ecom-bench -n 20 --floor-samples 1 --no-progress
	assert_success
	echo "$output" | jq -e '.orders == 20 and .complete and .connections.kafka.authentication == "PLAIN"
		and .connections.kafka.encrypted and .connections.kafka.host_name_checked' >/dev/null || fail "$output"
	assert_no_secret "$output$stderr"
}

@test "managed services: mongodb+srv:// implies TLS; on loopback its SRV lookup fails at once, with the name" {
	run --separate-stderr ecom-bench -X dump --store "mongodb+srv://ecom:wrongPassw0rd@cluster0.example.invalid/ecommerce"
	assert_success
	assert_output --partial "#   store: encrypted, certificate verified, host name checked, authentication SCRAM (negotiated)"
	assert_no_secret "$output$stderr"
	run_timed ecom-bench -n 1 --no-progress --store "mongodb+srv://ecom:wrongPassw0rd@cluster0.example.invalid/ecommerce"
	assert_refused "cannot connect to 'mongodb\+srv://ecom:\*\*\*@cluster0.example.invalid/ecommerce': Failed to look up SRV record \"_mongodb._tcp.cluster0.example.invalid\""
}
