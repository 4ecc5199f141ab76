# shellcheck shell=bash
# devstack/postgresql.sh: a private PostgreSQL cluster from Debian's server
# binaries, run as the postgres user when devstack.sh runs as root; role
# ecom owns database ecommerce.
# Sourced by devstack.sh after common.sh.

PG_BIN=
find_pg_bin() {
	local d best='' bestv=0 v
	for d in /usr/lib/postgresql/*/bin; do
		[[ -x $d/postgres && -x $d/initdb && -x $d/pg_ctl ]] || continue
		v=${d#/usr/lib/postgresql/}
		v=${v%%/*}
		[[ $v =~ ^[0-9]+$ ]] || continue
		if ((v > bestv)); then bestv=$v best=$d; fi
	done
	PG_BIN=$best
	[[ -n $PG_BIN ]]
}

as_pg() { # run a command as the postgres user when root, else as ourselves
	if is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_pid() { # first line of postmaster.pid
	local p=''
	if [[ -r $PG_DATA/postmaster.pid ]]; then read -r p <"$PG_DATA/postmaster.pid" || true; fi
	printf '%s' "$p"
}
pg_running() { local p; p=$(pg_pid); pid_is_ours "$p" "$PG_DATA"; }
pg_answers() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t "${1:-3}" >/dev/null 2>&1; }

pg_init() {
	[[ -f $PG_DATA/PG_VERSION ]] && return 0
	mkdir -p "$PG_DIR"
	rm -rf "$PG_DATA"
	mkdir -p "$PG_SOCK"
	if is_root; then
		chmod 0755 "$STATE_DIR"
		chown -R postgres:postgres "$PG_DIR"
		runuser -u postgres -- test -w "$PG_DIR" ||
			die "postgres: the postgres user cannot reach $PG_DIR (a parent directory is not traversable); set ECOM_DEVSTACK_DIR to a path under /tmp"
	fi
	local pwfile=$PG_DIR/superuser.pw
	(umask 077 && head -c 18 /dev/urandom | base64 | tr -d '\n/+=' >"$pwfile")
	if is_root; then chown postgres:postgres "$pwfile"; fi
	if ! as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --pwfile="$pwfile" \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C \
		>"$PG_DIR/initdb.log" 2>&1; then
		show_log_tail "$PG_DIR/initdb.log"
		die "postgres: initdb failed (log: $PG_DIR/initdb.log)"
	fi
	if ((SECURE)); then pg_init_secure; fi
}

# A secure stack: TLS only (hostssl), SCRAM passwords; the socket (trust,
# for pg_setup_db) in a directory only the server's user may enter.  The
# key is the server's own copy: PostgreSQL wants it owned by its user, 0600.
pg_init_secure() {
	install -m 0600 "$TLS_DIR/server.key" "$PG_DIR/server.key"
	install -m 0644 "$TLS_DIR/server.crt" "$PG_DIR/server.crt"
	cat >"$PG_DATA/pg_hba.conf" <<EOF
# written by scripts/devstack.sh up --secure: TLS and SCRAM over TCP, no plaintext
local   all all                trust
hostssl all all 127.0.0.1/32   scram-sha-256
hostssl all all ::1/128        scram-sha-256
EOF
	chmod 0700 "$PG_SOCK"
	if is_root; then chown postgres:postgres "$PG_DIR/server.key" "$PG_DIR/server.crt" "$PG_DATA/pg_hba.conf" "$PG_SOCK"; fi
}

pg_start() {
	pg_init
	msg "starting postgresql $("$PG_BIN/postgres" --version | sed -n 's/.*(PostgreSQL) \([^ ]*\).*/\1/p') on 127.0.0.1:$PG_PORT"
	local run_as=() i ssl=''
	if ((SECURE)); then
		ssl=" -c ssl=on -c ssl_cert_file=$PG_DIR/server.crt -c ssl_key_file=$PG_DIR/server.key -c password_encryption=scram-sha-256"
	fi
	if is_root; then run_as=(runuser -u postgres --); fi
	# -W: do not wait here: the waits of all services overlap
	if ! setsid nohup "${run_as[@]}" "$PG_BIN/pg_ctl" start -W -D "$PG_DATA" -l "$PG_LOG" \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCK$ssl" \
		</dev/null >"$PG_DIR/pg_ctl.out" 2>&1 {LOCK_FD}>&-; then
		show_log_tail "$PG_DIR/pg_ctl.out"
		show_log_tail "$PG_LOG"
		die "postgres: pg_ctl start failed (log: $PG_LOG)"
	fi
	# pg_ctl -W returns before the postmaster writes its pid file; until it
	# does, the wait would take the server for dead (after an immediate
	# stop, when start-up begins with recovery).
	for ((i = 0; i < 100; i++)); do
		[[ -s $PG_DATA/postmaster.pid ]] && break
		sleep 0.1
	done
}

pg_setup_db() {
	local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres)
	# a secure stack's password goes in on stdin, never on a command line
	if ! { cat <<'EOF'; pg_password_sql; } | as_pg "${psql[@]}" >"$PG_DIR/setup.log" 2>&1; then
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ecom') THEN
    CREATE ROLE ecom LOGIN CREATEDB CREATEROLE PASSWORD 'ecom';
  END IF;
END
$$;
SELECT 'CREATE DATABASE ecommerce OWNER ecom'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ecommerce')\gexec
EOF
		show_log_tail "$PG_DIR/setup.log"
		die "postgres: creating role ecom and database ecommerce failed (log: $PG_DIR/setup.log)"
	fi
}

pg_password_sql() {
	if ((SECURE)); then printf "ALTER ROLE ecom PASSWORD '%s';\n" "$PG_PASSWORD"; fi
}

pg_stop() {
	local pid
	pid=$(pg_pid)
	pg_running || return 1
	msg "stopping postgresql (pid $pid)"
	if ! as_pg "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t "$STOP_TIMEOUT" >/dev/null 2>&1; then
		if kill -0 "$pid" 2>/dev/null; then
			msg "postgresql (pid $pid) did not stop in ${STOP_TIMEOUT}s, killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	return 0
}
