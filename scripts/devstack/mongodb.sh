# shellcheck shell=bash
# devstack/mongodb.sh: the MongoDB-protocol server ECOM_MONGO_SERVER
# names: a real mongod, mongo-java-server (memory or H2 backend, through
# scripts/mongo-java-server/Launcher.java) or FerretDB (SQLite, through the
# Go launcher in scripts/ferretdb); which one, building it once into the
# cache, starting it, and asking it its name.
# Sourced by devstack.sh after common.sh.

readonly MONGO_SERVERS=(mongod memory h2 ferretdb)
readonly MJS_VERSION=1.47.0

GO=
find_go() {
	if command -v go >/dev/null 2>&1; then
		GO=$(command -v go)
	elif [[ -x /usr/local/go/bin/go ]]; then
		GO=/usr/local/go/bin/go
	else
		return 1
	fi
}

ferret_hash() {
	cat "$SCRIPT_DIR/ferretdb/main.go" "$SCRIPT_DIR/ferretdb/go.mod" "$SCRIPT_DIR/ferretdb/go.sum" |
		sha256sum | cut -c1-16
}

mjs_hash() {
	{ printf '%s\n' "$MJS_VERSION"; cat "$SCRIPT_DIR/mongo-java-server/Launcher.java"; } |
		sha256sum | cut -c1-16
}

# The mongod to run: $ECOM_MONGOD, else mongod on PATH; '' if none.
find_mongod() {
	if [[ -n ${ECOM_MONGOD:-} ]]; then
		[[ -x $ECOM_MONGOD && ! -d $ECOM_MONGOD ]] ||
			usage_error "ECOM_MONGOD='$ECOM_MONGOD' is not an executable file"
		printf '%s' "$ECOM_MONGOD"
	elif command -v mongod >/dev/null 2>&1; then
		command -v mongod
	fi
}

# ECOM_MONGO_SERVER, checked: a usage error (exit 2) names the valid values.
requested_mongo_server() {
	local want=${ECOM_MONGO_SERVER:-} kind
	[[ -z $want ]] && return 0
	for kind in "${MONGO_SERVERS[@]}"; do
		[[ $want == "$kind" ]] && { printf '%s' "$want"; return 0; }
	done
	usage_error "ECOM_MONGO_SERVER='$want' is not one of: ${MONGO_SERVERS[*]}"
}

recorded_mongo_server() { # what the state dir runs or ran; '' if nothing
	local kind=''
	if [[ -r $MONGO_DIR/server ]]; then read -r kind <"$MONGO_DIR/server" || true; fi
	printf '%s' "$kind"
}

MONGO_SERVER=
MONGOD=
FERRET_BIN=
MJS_LIBS=
MJS_CLASSES=
# Sets MONGO_SERVER: the record of a running or stopped server of this
# state dir unless ECOM_MONGO_SERVER asks for another, else
# ECOM_MONGO_SERVER, else mongod when there is one, else memory.
choose_mongo_server() {
	local want recorded
	want=$(requested_mongo_server)
	recorded=$(recorded_mongo_server)
	MONGOD=$(find_mongod)
	if [[ -n $want ]]; then
		MONGO_SERVER=$want
	elif [[ -n $recorded ]]; then
		MONGO_SERVER=$recorded
	elif [[ -n $MONGOD ]] && ((!SECURE)); then
		MONGO_SERVER=mongod
	else
		MONGO_SERVER=memory
	fi
	if [[ $MONGO_SERVER == mongod && -z $MONGOD ]]; then
		die "ECOM_MONGO_SERVER=mongod: no mongod found (put it on PATH or set ECOM_MONGOD)"
	fi
	FERRET_BIN=$CACHE_DIR/ferretdb-launcher-$(ferret_hash)
	MJS_LIBS=$CACHE_DIR/mongo-java-server-$MJS_VERSION/libs
	MJS_CLASSES=$CACHE_DIR/mongo-java-server-launcher-$(mjs_hash)
}

mjs_libs_ok() { [[ -f $MJS_LIBS/../.complete ]] && compgen -G "$MJS_LIBS/mongo-java-server-core-*.jar" >/dev/null; }
mjs_launcher_ok() { [[ -f $MJS_CLASSES/Launcher.class ]]; }

mongo_impl_ready() { # returns 1 when something must be resolved or built first
	case $MONGO_SERVER in
	mongod) return 0 ;;
	ferretdb) [[ -x $FERRET_BIN ]] ;;
	memory | h2) mjs_libs_ok && mjs_launcher_ok ;;
	esac
}

ferret_build() {
	[[ -x $FERRET_BIN ]] && return 0
	local log=$CACHE_DIR/ferretdb-launcher.build.log tmp
	mkdir -p "$CACHE_DIR"
	tmp=$FERRET_BIN.tmp.$$
	msg "building the ferretdb launcher with go (first run only, a few minutes): $FERRET_BIN"
	if ! (cd "$SCRIPT_DIR/ferretdb" && GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=readonly" \
		"$GO" build -buildvcs=false -trimpath -o "$tmp" . ) >"$log" 2>&1; then
		rm -f "$tmp"
		show_log_tail "$log"
		die "mongodb: building the ferretdb launcher failed (log: $log)"
	fi
	# launchers built from other sources stay: the cache is shared with
	# other checkouts, which may still use them
	mv -f "$tmp" "$FERRET_BIN"
}

# mongo-java-server's jars with Maven, into the cache, once
mjs_resolve_libs() {
	mjs_libs_ok && return 0
	local dest=${MJS_LIBS%/libs} log
	log=$dest.mvn.log
	mkdir -p "$CACHE_DIR"
	msg "resolving mongo-java-server $MJS_VERSION jars with maven into $MJS_LIBS (first run only)"
	rm -rf "$dest"
	mkdir -p "$dest"
	if ! mvn -B -q -f "$SCRIPT_DIR/mongo-java-server/pom.xml" -Dmongo-java-server.version="$MJS_VERSION" \
		dependency:copy-dependencies -DoutputDirectory="$MJS_LIBS" >"$log" 2>&1 ||
		! compgen -G "$MJS_LIBS/mongo-java-server-core-*.jar" >/dev/null; then
		show_log_tail "$log"
		die "mongodb: maven could not resolve mongo-java-server $MJS_VERSION (log: $log)"
	fi
	touch "$dest/.complete"
}

# the launcher, compiled once per source into the cache
mjs_build_launcher() {
	mjs_launcher_ok && return 0
	local tmp=$MJS_CLASSES.tmp.$$ log=$CACHE_DIR/mongo-java-server-launcher.build.log
	msg "compiling the mongo-java-server launcher with javac (first run only): $MJS_CLASSES"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	if ! javac -nowarn -d "$tmp" -cp "$MJS_LIBS/*" "$SCRIPT_DIR/mongo-java-server/Launcher.java" >"$log" 2>&1; then
		rm -rf "$tmp"
		show_log_tail "$log"
		die "mongodb: compiling the mongo-java-server launcher failed (log: $log)"
	fi
	rm -rf "$MJS_CLASSES"
	mv -f "$tmp" "$MJS_CLASSES"
}

mongo_pid() { read_pid "$MONGO_DIR/mongodb.pid"; }
mongo_running() { local p; p=$(mongo_pid); pid_is_ours "$p" "$MONGO_DIR/data"; }
# mongo-ping.py's options for this stack: TLS against its CA when secure
mongo_ping_args() {
	MPING=()
	if ((SECURE)); then MPING=(--tls-ca "$TLS_DIR/ca.crt"); fi
}
mongo_answers() {
	mongo_ping_args
	python3 "$SCRIPT_DIR/mongo-ping.py" "${MPING[@]}" -q -t "${1:-3}" "$(stack_host):$MONGO_PORT" >/dev/null 2>&1
}
mongo_log() {
	case $MONGO_SERVER in
	mongod) printf '%s' "$MONGO_DIR/mongod.log" ;;
	ferretdb) printf '%s' "$MONGO_DIR/ferretdb.log" ;;
	*) printf '%s' "$MONGO_DIR/mongo-java-server.log" ;;
	esac
}

# The server as it names itself (buildInfo), else what this dir runs.
mongo_server_name() {
	local name
	mongo_ping_args
	if [[ -n $MONGO_PORT ]] &&
		name=$(python3 "$SCRIPT_DIR/mongo-ping.py" "${MPING[@]}" --server -t 3 "$(stack_host):$MONGO_PORT" 2>/dev/null); then
		printf '%s' "$name"
	else
		printf '%s (not answering)' "$(recorded_mongo_server)"
	fi
}

# What each server gives a secure stack:
#   memory, h2  TLS only, no authentication: mongo-java-server has none
#               (Launcher.java);
#   ferretdb    TLS only, and SCRAM (SHA-256 or SHA-1), user ecom in
#               database admin: FerretDB's "new authentication", which
#               the launcher turns on (scripts/ferretdb/main.go says how);
#   mongod      refused: its launch line passes no TLS settings yet, and it
#               is not run in plaintext on a stack that says it is secure.
mongo_check_secure() {
	((SECURE)) || return 0
	case $MONGO_SERVER in
	memory | h2 | ferretdb) ;;
	*) die "mongodb: --secure runs mongo-java-server (ECOM_MONGO_SERVER=memory or h2) or FerretDB (ferretdb) only; $MONGO_SERVER is not set up for TLS yet" ;;
	esac
}

# 0 when the stack's MongoDB-protocol server asks for a password: FerretDB
# on a secure stack (the server on record: env and status run without
# choose_mongo_server)
mongo_has_auth() { ((SECURE)) && [[ $(recorded_mongo_server) == ferretdb ]]; }

# what the secure stack's MongoDB-protocol server gives, for the security line
mongo_security() {
	if mongo_has_auth; then
		printf 'mongodb TLS only, SCRAM-SHA-256 or SCRAM-SHA-1, user %s (FerretDB)' "$MONGO_USER"
	else
		printf 'mongodb TLS only, no authentication (mongo-java-server has none)'
	fi
}

mongo_start() {
	local recorded
	recorded=$(recorded_mongo_server)
	if [[ -n $recorded && $recorded != "$MONGO_SERVER" ]]; then
		msg "mongodb: replacing the stopped $recorded server (and its data) with $MONGO_SERVER"
		rm -rf "$MONGO_DIR/data"
	fi
	mkdir -p "$MONGO_DIR/data"
	printf '%s\n' "$MONGO_SERVER" >"$MONGO_DIR/server"
	case $MONGO_SERVER in
	mongod)
		msg "starting mongod ($MONGOD) on 127.0.0.1:$MONGO_PORT"
		spawn "$MONGO_DIR/mongodb.pid" "$MONGO_DIR/mongod.out" \
			"$MONGOD" --dbpath "$MONGO_DIR/data" --bind_ip 127.0.0.1 --port "$MONGO_PORT" \
			--logpath "$MONGO_DIR/mongod.log" --logappend --quiet
		;;
	ferretdb)
		ferret_build
		local listen=(-listen "127.0.0.1:$MONGO_PORT") what=''
		if ((SECURE)); then
			# TLS only (no plaintext listener), no client certificate
			# asked for (no -tls-ca-file), SCRAM with the stack's user;
			# the password from a file, never on the command line
			(umask 077 && printf '%s\n' "$MONGO_PASSWORD" >"$MONGO_DIR/auth.pw")
			listen=(-listen-tls "127.0.0.1:$MONGO_PORT" -tls-cert-file "$TLS_DIR/server.crt"
				-tls-key-file "$TLS_DIR/server.key" -auth-user "$MONGO_USER"
				-auth-database admin -auth-password-file "$MONGO_DIR/auth.pw")
			what=', TLS and SCRAM'
		fi
		msg "starting ferretdb $("$FERRET_BIN" -version 2>/dev/null || echo '?') (sqlite$what) on 127.0.0.1:$MONGO_PORT"
		spawn "$MONGO_DIR/mongodb.pid" "$MONGO_DIR/ferretdb.log" \
			"$FERRET_BIN" "${listen[@]}" -sqlite-dir "$MONGO_DIR/data" -log-level warn
		;;
	memory | h2)
		mjs_resolve_libs
		mjs_build_launcher
		local backend=(--backend memory) tls=()
		if ((SECURE)); then
			(umask 077 && printf '%s\n' "$KEYSTORE_PASSWORD" >"$MONGO_DIR/keystore.pw")
			tls=(--tls-keystore "$TLS_DIR/server.p12" --tls-password-file "$MONGO_DIR/keystore.pw")
		fi
		if [[ $MONGO_SERVER == h2 ]]; then backend=(--backend h2 --file "$MONGO_DIR/data/ecom.mv.db"); fi
		msg "starting mongo-java-server $MJS_VERSION ($MONGO_SERVER) on 127.0.0.1:$MONGO_PORT"
		# -Decom.devstack.data marks the command line as this dir's (pid_is_ours)
		spawn "$MONGO_DIR/mongodb.pid" "$(mongo_log)" \
			java "-Xmx${ECOM_MONGO_HEAP:-512m}" -XX:+UseSerialGC -Djava.awt.headless=true \
			-Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Decom.devstack.data="$MONGO_DIR/data" \
			-cp "$MJS_LIBS/*:$MJS_CLASSES" Launcher --listen "127.0.0.1:$MONGO_PORT" "${backend[@]}" "${tls[@]}"
		;;
	esac
}
