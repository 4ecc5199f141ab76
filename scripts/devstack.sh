#!/usr/bin/env bash
# devstack.sh: real Kafka, MongoDB-protocol and PostgreSQL servers for
# integration tests and benchmarks, on 127.0.0.1, on free ports, in a scratch
# directory. See shared DESIGN.md, section "Services".
#
#   eval "$(scripts/devstack.sh up)"   # start (or reuse) and export ECOM_* vars
#   eval "$(scripts/devstack.sh up --brokers 3)"   # the same, Kafka on 3 nodes
#   scripts/devstack.sh up mongodb      # only some services (kafka mongodb postgresql)
#   scripts/devstack.sh status          # one line per service (per broker); exit 0 if all up
#   scripts/devstack.sh env             # print the export line again
#   scripts/devstack.sh down            # stop what `up` started, wipe the data
#   scripts/devstack.sh packages        # Debian packages needed, one per line
#   scripts/devstack.sh kill-broker N   # kill -9 broker N (tests that lose a broker)
#   scripts/devstack.sh start-broker N  # start it again, same config and data
#   scripts/devstack.sh wait-isr [SECS] # wait until every partition is fully in sync
#
# Debian packages the dev stack needs (also printed by `devstack.sh packages`):
#   openjdk-17-jre-headless openjdk-17-jdk-headless maven kcat python3
#   postgresql iproute2 util-linux
# Not from Debian: a Go toolchain >= 1.24 (Debian 12 has 1.19) to build the
# FerretDB launcher, needed only for ECOM_MONGO_SERVER=ferretdb; it is looked
# up on PATH and in /usr/local/go/bin.
#
# Services:
#   kafka     Apache Kafka 3.9.x, KRaft, one node (broker+controller); jars from
#             Maven (scripts/kafka/pom.xml) cached in $ECOM_CACHE_DIR, or
#             $KAFKA_HOME/libs when KAFKA_HOME is set.
#             With --brokers N (or ECOM_KAFKA_BROKERS_COUNT=N), N nodes, each a
#             broker and a controller (KRaft combined mode): the controller
#             quorum is all N nodes, so three keep a majority when any one is
#             killed, and no extra JVM runs beside them on a 2-core machine (one
#             separate controller would be a single point of failure, three
#             would double the JVMs). Production clusters use dedicated
#             controllers; for losing one node at a time it behaves the same.
#             From 3 nodes on: replication factor 3 (internal topics too),
#             min.insync.replicas=2, no unclean leader election; heap 384 MiB
#             per node (one node: 512 MiB).
#   mongodb   the MongoDB-protocol server ECOM_MONGO_SERVER names:
#               mongod    a real mongod ($ECOM_MONGOD, else mongod on PATH);
#                         chosen first when there is one
#               memory    mongo-java-server 1.47.0, in-memory backend: the
#                         default without mongod; by-key operations cost the
#                         same at 10,000 documents as at 10
#               h2        mongo-java-server 1.47.0, H2 (MVStore file) backend:
#                         persistent; the launcher commits before it
#                         acknowledges, so a kill -9 loses no acknowledged
#                         write (doc/store-notes.md)
#               ferretdb  FerretDB 1.24.2, SQLite backend, through the Go
#                         launcher in scripts/ferretdb: a second, independent
#                         implementation; it reads every document on updates
#                         and counts, so it checks correctness, not speed
#             mongo-java-server's jars come from Maven
#             (scripts/mongo-java-server/pom.xml) into the cache, and its
#             launcher (scripts/mongo-java-server/Launcher.java) is compiled
#             once with javac into the cache, keyed by a hash of its source.
#   postgres  Debian's server binaries (newest /usr/lib/postgresql/*/bin), a
#             private cluster run as the postgres user when invoked as root;
#             role ecom/ecom owns database ecommerce (and may create roles:
#             the secrets test makes one with a canary password).
#
# `up`, `env` and `status` name the MongoDB-protocol server as it names
# itself (buildInfo, through scripts/mongo-ping.py --server), e.g.
# "mongo-java-server 1.47.0 (memory)": `status` on the mongodb line, `up`
# and `env` in a comment line after the export line (so eval still works).
#
# Environment:
#   ECOM_DEVSTACK_DIR  state dir (default /tmp/ecom-devstack-$(id -u))
#   ECOM_CACHE_DIR     cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/ecom)
#   ECOM_MONGO_SERVER  mongod, memory, h2 or ferretdb (default: mongod when
#                      there is one, else memory); anything else is a usage
#                      error (exit 2)
#   ECOM_MONGOD        the mongod binary to run (default: mongod on PATH)
#   ECOM_MONGO_HEAP    -Xmx of mongo-java-server (default 512m)
#   ECOM_KAFKA_VERSION Kafka version to resolve with Maven (default 3.9.1,
#                      falls back to 3.9.2)
#   ECOM_KAFKA_BROKERS_COUNT  Kafka nodes `up` starts (1 to 9, default 1;
#                      --brokers wins)
#   KAFKA_HOME         use $KAFKA_HOME/libs instead of Maven
#
# Exit status: 0 ok, 1 runtime failure, 2 usage.
set -euo pipefail

readonly DEBIAN_PACKAGES=(openjdk-17-jre-headless openjdk-17-jdk-headless maven kcat python3 postgresql
	iproute2 util-linux)
readonly ALL_SERVICES=(kafka mongodb postgresql)
readonly MONGO_SERVERS=(mongod memory h2 ferretdb)
readonly MJS_VERSION=1.47.0

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
STATE_DIR=${ECOM_DEVSTACK_DIR:-/tmp/ecom-devstack-$(id -u)}
STATE_DIR=${STATE_DIR%/}
readonly STATE_DIR
CACHE_DIR=${ECOM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ecom}
readonly CACHE_DIR
readonly PORTS_FILE=$STATE_DIR/ports.env
readonly KAFKA_DIR=$STATE_DIR/kafka
readonly MONGO_DIR=$STATE_DIR/mongodb
readonly PG_DIR=$STATE_DIR/postgres
readonly PG_DATA=$PG_DIR/data
readonly PG_SOCK=$PG_DIR/run
readonly PG_LOG=$PG_DIR/postgres.log
readonly SERVICES_FILE=$STATE_DIR/services

readonly KAFKA_TIMEOUT=90
readonly MONGO_TIMEOUT=60
readonly PG_TIMEOUT=60
readonly STOP_TIMEOUT=15
# ports are drawn from here: above the usual service ports, below Linux's
# default ephemeral range (32768-60999) so outgoing connections don't take them
readonly PORT_MIN=20000
readonly PORT_SPAN=12000

# Kafka: KAFKA_COUNT nodes, node i (1-based) listens on KAFKA_PORTS[i]
# (clients) and KAFKA_CTRL_PORTS[i] (the KRaft controller quorum)
readonly KAFKA_MAX_BROKERS=9
KAFKA_COUNT=1
KAFKA_PORTS=()
KAFKA_CTRL_PORTS=()
MONGO_PORT=
PG_PORT=
# the services of this stack (up's operands, or what an earlier up started)
SERVICES=()

msg() { printf 'devstack: %s\n' "$*" >&2; }
die() { msg "$*"; exit 1; }

usage() {
	cat <<'EOF'
usage: devstack.sh up [--brokers N] [kafka|mongodb|postgresql ...]|down|status|env|packages|--help
       devstack.sh kill-broker N|start-broker N|wait-isr [SECONDS]

  up        start Kafka, a MongoDB-protocol server and PostgreSQL on 127.0.0.1
            (free ports; only the services named, if any), wait until each
            answers, and print the export line
            export ECOM_KAFKA_BROKERS=... ECOM_MONGODB_URI=... ECOM_POSTGRES_URI=...
            and a comment naming the MongoDB-protocol server, so that
            `eval "$(scripts/devstack.sh up)"` works; a no-op (same lines)
            when already up
  --brokers N
            Kafka on N nodes (1 to 9, default 1), every node a broker and a
            KRaft controller; ECOM_KAFKA_BROKERS lists them all.  From 3 on:
            replication factor 3, min.insync.replicas=2, no unclean leader
            election.  A stack with another count must be taken down first.
  down      stop exactly what `up` started (pid files) and remove its data
  status    one line per service and per broker (name, pid, port, up/down;
            the MongoDB-protocol server's name, version and backend); exit 0
            if all up
  env       print the export lines of a running stack (exit 1 if not up)
  packages  print the Debian packages the dev stack needs, one per line
  kill-broker N
            kill -9 Kafka node N (1 = the first) by its pid file
  start-broker N
            start node N again with its config and data; wait until it answers
            and the cluster has all its brokers
  wait-isr [SECONDS]
            wait (default 60 s) until every broker is registered and every
            partition of every topic, internal ones too, has a leader and its
            whole replica set in sync; else exit 1 naming the partitions

ECOM_MONGO_SERVER picks the MongoDB-protocol server: mongod (a real mongod,
ECOM_MONGOD or on PATH; the default when there is one), memory
(mongo-java-server, in memory; the default otherwise), h2 (mongo-java-server,
persistent) or ferretdb (FerretDB 1.24, SQLite).

environment: ECOM_DEVSTACK_DIR (state, default /tmp/ecom-devstack-UID),
ECOM_CACHE_DIR (jars and launchers, default ~/.cache/ecom),
ECOM_MONGO_SERVER, ECOM_MONGOD, ECOM_MONGO_HEAP (default 512m), KAFKA_HOME,
ECOM_KAFKA_VERSION (default 3.9.1), ECOM_KAFKA_BROKERS_COUNT (as --brokers)
EOF
}

# ---------------------------------------------------------------- helpers

is_root() { [[ $(id -u) -eq 0 ]]; }

# the process with pid $1 is alive and its command line mentions $2 (a path
# in the state dir), so a recycled pid is never mistaken for ours
pid_is_ours() {
	local pid=$1 mark=$2 cmd
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmd == *"$mark"* ]]
}

read_pid() { # file -> pid on stdout ('' if none)
	local f=$1 pid=''
	if [[ -r $f ]]; then read -r pid <"$f" || true; fi
	printf '%s' "$pid"
}

port_busy() { # something listens on TCP port $1 (any address)
	local out
	out=$(ss -Hltn "sport = :$1" 2>/dev/null) || return 0
	[[ -n $out ]]
}

pick_port() { # a free port, not one of the stack's nor in the argument list
	local p i used
	for ((i = 0; i < 200; i++)); do
		p=$((PORT_MIN + (RANDOM * 32768 + RANDOM) % PORT_SPAN))
		for used in "$@" "${KAFKA_PORTS[@]}" "${KAFKA_CTRL_PORTS[@]}" "$MONGO_PORT" "$PG_PORT"; do
			[[ $p == "$used" ]] && continue 2
		done
		port_busy "$p" || { printf '%s' "$p"; return 0; }
	done
	die "no free tcp port found in $PORT_MIN-$((PORT_MIN + PORT_SPAN - 1))"
}

load_ports() {
	[[ -r $PORTS_FILE ]] || return 1
	local k v i
	KAFKA_COUNT=1 # a file without the count is a one-broker stack
	while IFS='=' read -r k v; do
		[[ $v =~ ^[0-9]+$ ]] || continue
		case $k in
		KAFKA_BROKERS_COUNT) KAFKA_COUNT=$v ;;
		KAFKA_PORT) KAFKA_PORTS[1]=$v ;;
		KAFKA_CONTROLLER_PORT) KAFKA_CTRL_PORTS[1]=$v ;;
		KAFKA_PORT_[0-9]) KAFKA_PORTS[${k#KAFKA_PORT_}]=$v ;;
		KAFKA_CONTROLLER_PORT_[0-9]) KAFKA_CTRL_PORTS[${k#KAFKA_CONTROLLER_PORT_}]=$v ;;
		MONGO_PORT) MONGO_PORT=$v ;;
		PG_PORT) PG_PORT=$v ;;
		esac
	done <"$PORTS_FILE"
	local svc
	for svc in "${SERVICES[@]}"; do
		case $svc in
		kafka)
			for ((i = 1; i <= KAFKA_COUNT; i++)); do
				[[ -n ${KAFKA_PORTS[i]:-} && -n ${KAFKA_CTRL_PORTS[i]:-} ]] || return 1
			done
			;;
		mongodb) [[ -n $MONGO_PORT ]] || return 1 ;;
		postgresql) [[ -n $PG_PORT ]] || return 1 ;;
		esac
	done
}

# node 1 keeps the names a one-broker stack always had, so that an older
# devstack.sh reads this file too
save_ports() {
	local tmp=$PORTS_FILE.tmp i
	{
		printf 'KAFKA_BROKERS_COUNT=%s\n' "$KAFKA_COUNT"
		printf 'KAFKA_PORT=%s\nKAFKA_CONTROLLER_PORT=%s\n' "${KAFKA_PORTS[1]:-}" "${KAFKA_CTRL_PORTS[1]:-}"
		for ((i = 2; i <= KAFKA_COUNT; i++)); do
			printf 'KAFKA_PORT_%s=%s\nKAFKA_CONTROLLER_PORT_%s=%s\n' \
				"$i" "${KAFKA_PORTS[i]:-}" "$i" "${KAFKA_CTRL_PORTS[i]:-}"
		done
		printf 'MONGO_PORT=%s\nPG_PORT=%s\n' "$MONGO_PORT" "$PG_PORT"
	} >"$tmp"
	mv -f "$tmp" "$PORTS_FILE"
}

has_service() { # name: part of this stack
	local svc
	for svc in "${SERVICES[@]}"; do [[ $svc == "$1" ]] && return 0; done
	return 1
}

# The services of the stack in the state dir: those an earlier `up`
# recorded, all three for a stack older than that record.
load_services() {
	SERVICES=()
	if [[ -r $SERVICES_FILE ]]; then
		local svc
		while read -r svc; do
			case $svc in kafka | mongodb | postgresql) SERVICES+=("$svc") ;; esac
		done <"$SERVICES_FILE"
	fi
	((${#SERVICES[@]})) || SERVICES=("${ALL_SERVICES[@]}")
}

kafka_bootstrap() { # every broker, comma-separated
	local i list=''
	for ((i = 1; i <= KAFKA_COUNT; i++)); do
		list+="${list:+,}127.0.0.1:${KAFKA_PORTS[i]}"
	done
	printf '%s' "$list"
}

env_line() {
	local vars=() name
	has_service kafka && vars+=("ECOM_KAFKA_BROKERS=$(kafka_bootstrap)")
	has_service mongodb && vars+=("ECOM_MONGODB_URI=mongodb://127.0.0.1:$MONGO_PORT/ecommerce")
	has_service postgresql && vars+=("ECOM_POSTGRES_URI=postgresql://ecom:ecom@127.0.0.1:$PG_PORT/ecommerce")
	printf 'export %s\n' "${vars[*]}"
	if has_service mongodb; then
		name=$(mongo_server_name)
		printf '# mongodb: %s\n' "$name"
	fi
}

show_log_tail() { # file
	[[ -r $1 ]] || return 0
	msg "last lines of $1:"
	tail -n 15 "$1" | sed 's/^/  | /' >&2
}

# start a command detached from this shell and its terminal; pid to $pidfile
spawn() { # pidfile logfile cmd...
	local pidfile=$1 log=$2 pid
	shift 2
	# setsid: new session, no controlling terminal; nohup: ignore SIGHUP.
	# Both exec in place (the background child is no group leader), so $!
	# is the server's own pid.
	# The lock fd is closed so that a server never holds the state-dir lock.
	setsid nohup "$@" </dev/null >>"$log" 2>&1 {LOCK_FD}>&- &
	pid=$!
	printf '%s\n' "$pid" >"$pidfile"
}

# stop the process in pidfile (if it is ours): TERM, wait, KILL
stop_pid() { # name pidfile mark
	local name=$1 pidfile=$2 mark=$3 pid i
	pid=$(read_pid "$pidfile")
	if [[ -z $pid ]] || ! pid_is_ours "$pid" "$mark"; then
		rm -f "$pidfile"
		return 1
	fi
	msg "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		msg "$name (pid $pid) did not stop in ${STOP_TIMEOUT}s, killing it"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.2
	fi
	rm -f "$pidfile"
	return 0
}

need() { # command debian-package
	command -v "$1" >/dev/null 2>&1 || die "$1 not found: install the debian package $2 (apt-get install $2)"
}

# ---------------------------------------------------------------- tools

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

kafka_libs_ok() { # dir: has the broker classes
	compgen -G "$1/kafka_2.13-*.jar" >/dev/null && compgen -G "$1/kafka-clients-*.jar" >/dev/null
}

KAFKA_LIBS=
# sets KAFKA_LIBS when usable without Maven; returns 1 if Maven is needed
kafka_libs_cached() {
	local v
	if [[ -n ${KAFKA_HOME:-} && -d ${KAFKA_HOME}/libs ]]; then
		kafka_libs_ok "$KAFKA_HOME/libs" || die "KAFKA_HOME=$KAFKA_HOME: no kafka_2.13 jars in libs/"
		KAFKA_LIBS=$KAFKA_HOME/libs
		return 0
	fi
	for v in "${ECOM_KAFKA_VERSION:-3.9.1}" 3.9.2; do
		if [[ -f $CACHE_DIR/kafka-$v/.complete ]] && kafka_libs_ok "$CACHE_DIR/kafka-$v/libs"; then
			KAFKA_LIBS=$CACHE_DIR/kafka-$v/libs
			return 0
		fi
	done
	return 1
}

ferret_hash() {
	cat "$SCRIPT_DIR/ferretdb/main.go" "$SCRIPT_DIR/ferretdb/go.mod" "$SCRIPT_DIR/ferretdb/go.sum" |
		sha256sum | cut -c1-16
}

mjs_hash() {
	{ printf '%s\n' "$MJS_VERSION"; cat "$SCRIPT_DIR/mongo-java-server/Launcher.java"; } |
		sha256sum | cut -c1-16
}

usage_error() { msg "$*"; exit 2; }

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
	elif [[ -n $MONGOD ]]; then
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

check_tools() {
	need java openjdk-17-jre-headless
	need kcat kcat
	need python3 python3
	need ss iproute2
	need setsid util-linux
	need flock util-linux
	need sha256sum coreutils
	if is_root; then need runuser util-linux; fi
	if has_service postgresql; then
		find_pg_bin || die "postgresql server binaries not found in /usr/lib/postgresql/*/bin: install the debian package postgresql (apt-get install postgresql)"
		[[ -x $PG_BIN/pg_isready && -x $PG_BIN/psql ]] || die "pg_isready/psql not found in $PG_BIN: install the debian package postgresql-client"
		if is_root; then
			id -u postgres >/dev/null 2>&1 || die "user postgres not found: install the debian package postgresql"
		fi
	fi
	if has_service kafka && ! kafka_libs_cached; then
		need mvn maven
	fi
	if has_service mongodb && ! mongo_impl_ready; then
		case $MONGO_SERVER in
		ferretdb)
			find_go || die "go not found (needed once to build the FerretDB launcher): install a Go toolchain >= 1.24 (Debian 12's golang is too old)"
			;;
		memory | h2)
			mjs_libs_ok || need mvn maven
			mjs_launcher_ok || need javac openjdk-17-jdk-headless
			;;
		esac
	fi
}

# ---------------------------------------------------------------- kafka

kafka_resolve_libs() {
	kafka_libs_cached && return 0
	local v dest log ok=
	mkdir -p "$CACHE_DIR"
	for v in "${ECOM_KAFKA_VERSION:-3.9.1}" 3.9.2; do
		dest=$CACHE_DIR/kafka-$v
		log=$CACHE_DIR/kafka-$v.mvn.log
		msg "resolving kafka $v jars with maven into $dest/libs (first run only)"
		rm -rf "$dest"
		mkdir -p "$dest"
		if mvn -B -q -f "$SCRIPT_DIR/kafka/pom.xml" -Dkafka.version="$v" \
			dependency:copy-dependencies -DoutputDirectory="$dest/libs" >"$log" 2>&1 &&
			kafka_libs_ok "$dest/libs"; then
			touch "$dest/.complete"
			KAFKA_LIBS=$dest/libs
			ok=1
			break
		fi
		msg "maven could not resolve kafka $v (log: $log)"
		show_log_tail "$log"
	done
	[[ -n $ok ]] || die "kafka: could not resolve the broker jars with maven"
}

kafka_version() { # from the jar name in $KAFKA_LIBS
	local j
	for j in "$KAFKA_LIBS"/kafka_2.13-*.jar; do
		j=${j##*/kafka_2.13-}
		j=${j%.jar}
		[[ $j == *-* ]] && continue # -sources, -test
		printf '%s' "$j"
		return 0
	done
	printf 'unknown'
}

# One broker keeps the layout it always had (kafka/server.properties,
# kafka/kafka.pid, kafka/data); node i of a cluster lives in kafka/kafka-i.
kafka_node_dir() { if ((KAFKA_COUNT == 1)); then printf '%s' "$KAFKA_DIR"; else printf '%s' "$KAFKA_DIR/kafka-$1"; fi; }
kafka_node_name() { if ((KAFKA_COUNT == 1)); then printf 'kafka'; else printf 'kafka-%s' "$1"; fi; }

# the broker count of the stack on disk ('' when there is none), whatever
# ports.env says: it decides whether `up` may reuse the data
kafka_disk_count() {
	local d n=0
	if [[ -e $KAFKA_DIR/server.properties ]]; then
		printf '1'
		return 0
	fi
	for d in "$KAFKA_DIR"/kafka-[1-9]; do
		[[ -d $d ]] && n=$((n + 1))
	done
	if ((n > 0)); then printf '%s' "$n"; fi
}

kafka_write_config() { # node
	local i=$1 dir voters='' j rf min_isr
	dir=$(kafka_node_dir "$i")
	mkdir -p "$dir/data" "$dir/logs"
	for ((j = 1; j <= KAFKA_COUNT; j++)); do
		voters+="${voters:+,}$j@127.0.0.1:${KAFKA_CTRL_PORTS[j]}"
	done
	# a cluster of three or more: the documented production settings
	# (replication factor 3, two in-sync replicas for acks=all); fewer
	# nodes replicate on all of them and ack with one
	rf=$((KAFKA_COUNT < 3 ? KAFKA_COUNT : 3))
	min_isr=$((rf < 3 ? 1 : 2))
	cat >"$dir/server.properties" <<EOF
# written by scripts/devstack.sh; $(if ((KAFKA_COUNT == 1)); then
		echo 'a one-node development broker'
	else
		echo "node $i of a $KAFKA_COUNT-node development cluster, every node a broker and a controller"
	fi)
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORTS[i]},CONTROLLER://127.0.0.1:${KAFKA_CTRL_PORTS[i]}
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORTS[i]}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$min_isr
unclean.leader.election.enable=false
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$min_isr
group.initial.rebalance.delay.ms=0
# a node killed with -9 is fenced (its partitions led elsewhere) once it
# has missed heartbeats for this long: 9 s by default, the pause every
# client sees; on loopback 4 s is safe
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=24
log.segment.bytes=104857600
EOF
	cat >"$dir/log4j.properties" <<EOF
# written by scripts/devstack.sh: INFO to a size-bounded file
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$dir/logs/server.log
log4j.appender.file.MaxFileSize=10MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel\$=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.kafka.authorizer.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
}

kafka_pid() { read_pid "$(kafka_node_dir "$1")/kafka.pid"; }
kafka_running() { local p; p=$(kafka_pid "$1"); pid_is_ours "$p" "$(kafka_node_dir "$1")/server.properties"; }
kafka_answers() { kcat -L -b "127.0.0.1:${KAFKA_PORTS[$1]}" -m "${2:-5}" >/dev/null 2>&1; }
kafka_log() { printf '%s' "$(kafka_node_dir "$1")/logs/server.log"; }
# for wait_for, which takes function names: the node in KNODE
KNODE=1
kafka_knode_answers() { kafka_answers "$KNODE" "$@"; }
kafka_knode_running() { kafka_running "$KNODE"; }

# Give every node without a formatted data dir the stack's cluster id (that
# of a node already formatted, else a new one); the formats run side by side.
kafka_format() {
	local i dir cid='' f failed=0
	local -a pids=() nodes=()
	for ((i = 1; i <= KAFKA_COUNT; i++)); do
		f=$(kafka_node_dir "$i")/data/meta.properties
		if [[ -f $f ]]; then
			cid=$(sed -n 's/^cluster\.id=//p' "$f")
		else
			nodes+=("$i")
		fi
	done
	((${#nodes[@]} > 0)) || return 0
	if [[ -z $cid ]]; then
		# a cluster id is 16 random bytes, url-safe base64 without padding
		cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
	fi
	for i in "${nodes[@]}"; do
		dir=$(kafka_node_dir "$i")
		java -Xmx256m -XX:TieredStopAtLevel=1 -cp "$KAFKA_LIBS/*" \
			-Dlog4j.configuration="file:$dir/log4j.properties" \
			kafka.tools.StorageTool format -t "$cid" -c "$dir/server.properties" \
			>"$dir/format.log" 2>&1 {LOCK_FD}>&- &
		pids+=("$!")
	done
	for ((i = 0; i < ${#pids[@]}; i++)); do
		if ! wait "${pids[i]}"; then
			dir=$(kafka_node_dir "${nodes[i]}")
			show_log_tail "$dir/format.log"
			msg "kafka: storage format of $(kafka_node_name "${nodes[i]}") failed (log: $dir/format.log)"
			failed=1
		fi
	done
	((failed == 0)) || exit 1
}

# Start the given nodes (configs written, data formatted); nothing waits here.
kafka_start() { # node...
	local i dir heap
	kafka_resolve_libs
	for i in "$@"; do kafka_write_config "$i"; done
	kafka_format
	# three brokers share a 2-core machine with PostgreSQL and a
	# MongoDB-protocol server: their heaps are bounded lower than one's
	if ((KAFKA_COUNT == 1)); then heap=(-Xmx512m -Xms256m); else heap=(-Xmx384m -Xms128m); fi
	for i in "$@"; do
		dir=$(kafka_node_dir "$i")
		msg "starting $(kafka_node_name "$i") (kafka $(kafka_version)) on 127.0.0.1:${KAFKA_PORTS[i]} (controller :${KAFKA_CTRL_PORTS[i]})"
		spawn "$dir/kafka.pid" "$dir/kafka.out" \
			java "${heap[@]}" -XX:+UseG1GC -Djava.awt.headless=true \
			-cp "$KAFKA_LIBS/*" \
			-Dlog4j.configuration="file:$dir/log4j.properties" \
			kafka.Kafka "$dir/server.properties"
	done
}

kafka_wait() { # node...: each answers, then all are in the cluster's metadata
	local i deadline problems
	for i in "$@"; do
		KNODE=$i
		wait_for "$(kafka_node_name "$i")" "$KAFKA_TIMEOUT" "$(kafka_log "$i")" \
			kafka_knode_answers kafka_knode_running "$(kafka_node_dir "$i")/kafka.out"
	done
	((KAFKA_COUNT > 1)) || return 0
	deadline=$((SECONDS + KAFKA_TIMEOUT))
	until problems=$(kafka_metadata_check brokers); do
		((SECONDS < deadline)) || die "kafka: $problems after ${KAFKA_TIMEOUT}s (logs: $KAFKA_DIR/kafka-*/logs/server.log)"
		sleep 0.5
	done
}

# Check the cluster's metadata (kcat -L -J from any broker): `brokers`:
# every node is registered; `isr`: that, and every partition of every
# topic, internal ones included, has a leader and all its replicas in sync.
# Prints what is missing, one item a line, and exits 1; else a summary.
readonly KAFKA_CHECK_PY='
import json, sys
want, mode = int(sys.argv[1]), sys.argv[2]
try:
    md = json.load(sys.stdin)
except ValueError:
    print("no metadata from any broker")
    sys.exit(1)
bad, partitions = [], 0
ids = sorted(b["id"] for b in md.get("brokers", []))
if len(ids) < want:
    bad.append("brokers in the metadata: [%s] of %d" % (",".join(map(str, ids)), want))
for t in sorted(md.get("topics", []), key=lambda t: t["topic"]) if mode == "isr" else []:
    if t.get("error"):
        bad.append("%s: %s" % (t["topic"], t["error"]))
    for p in sorted(t.get("partitions", []), key=lambda p: p["partition"]):
        partitions += 1
        replicas = [r["id"] for r in p.get("replicas", [])]
        isr = [r["id"] for r in p.get("isrs", [])]
        if p.get("leader", -1) < 0 or p.get("error") or sorted(isr) != sorted(replicas):
            bad.append("%s/%d leader %d isr [%s] replicas [%s]" % (t["topic"], p["partition"],
                p.get("leader", -1), ",".join(map(str, isr)), ",".join(map(str, replicas))))
if bad:
    print("\n".join(bad))
    sys.exit(1)
print("%d broker(s), %d topic(s), %d partition(s)" % (len(ids), len(md.get("topics", [])), partitions))
'
kafka_metadata_check() { # brokers|isr
	kcat -L -J -b "$(kafka_bootstrap)" -m 5 2>/dev/null | python3 -c "$KAFKA_CHECK_PY" "$KAFKA_COUNT" "$1"
}

# Stop every broker whose pid file is in the state dir: TERM to all at once
# (a cluster stops in one round of controlled shutdowns), then KILL what is
# left after STOP_TIMEOUT.  Prints how many were running.
kafka_stop_all() {
	local dir pid i n=0
	local -a pids=() names=()
	for dir in "$KAFKA_DIR" "$KAFKA_DIR"/kafka-[1-9]; do
		[[ -f $dir/kafka.pid ]] || continue
		pid=$(read_pid "$dir/kafka.pid")
		rm -f "$dir/kafka.pid"
		pid_is_ours "$pid" "$dir/server.properties" || continue
		if [[ $dir == "$KAFKA_DIR" ]]; then names+=(kafka); else names+=("${dir##*/}"); fi
		pids+=("$pid")
		msg "stopping ${names[-1]} (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
	done
	for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
		n=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && n=$((n + 1)); done
		((n == 0)) && break
		sleep 0.1
	done
	for ((i = 0; i < ${#pids[@]}; i++)); do
		if kill -0 "${pids[i]}" 2>/dev/null; then
			msg "${names[i]} (pid ${pids[i]}) did not stop in ${STOP_TIMEOUT}s, killing it"
			kill -KILL "${pids[i]}" 2>/dev/null || true
		fi
	done
	((n == 0)) || sleep 0.2
	printf '%s' "${#pids[@]}"
}

# ---------------------------------------------------------------- mongodb

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
mongo_answers() { python3 "$SCRIPT_DIR/mongo-ping.py" -q -t "${1:-3}" "127.0.0.1:$MONGO_PORT" >/dev/null 2>&1; }
mongo_log() {
	case ${1:-$MONGO_SERVER} in
	mongod) printf '%s' "$MONGO_DIR/mongod.log" ;;
	ferretdb) printf '%s' "$MONGO_DIR/ferretdb.log" ;;
	*) printf '%s' "$MONGO_DIR/mongo-java-server.log" ;;
	esac
}

# The server as it names itself (buildInfo), else what this dir runs.
mongo_server_name() {
	local name
	if [[ -n $MONGO_PORT ]] &&
		name=$(python3 "$SCRIPT_DIR/mongo-ping.py" --server -t 3 "127.0.0.1:$MONGO_PORT" 2>/dev/null); then
		printf '%s' "$name"
	else
		printf '%s (not answering)' "$(recorded_mongo_server)"
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
		msg "starting ferretdb $("$FERRET_BIN" -version 2>/dev/null || echo '?') (sqlite) on 127.0.0.1:$MONGO_PORT"
		spawn "$MONGO_DIR/mongodb.pid" "$MONGO_DIR/ferretdb.log" \
			"$FERRET_BIN" -listen "127.0.0.1:$MONGO_PORT" -sqlite-dir "$MONGO_DIR/data" -log-level warn
		;;
	memory | h2)
		mjs_resolve_libs
		mjs_build_launcher
		local backend=(--backend memory)
		if [[ $MONGO_SERVER == h2 ]]; then backend=(--backend h2 --file "$MONGO_DIR/data/ecom.mv.db"); fi
		msg "starting mongo-java-server $MJS_VERSION ($MONGO_SERVER) on 127.0.0.1:$MONGO_PORT"
		# -Decom.devstack.data marks the command line as this dir's (pid_is_ours)
		spawn "$MONGO_DIR/mongodb.pid" "$(mongo_log)" \
			java "-Xmx${ECOM_MONGO_HEAP:-512m}" -XX:+UseSerialGC -Djava.awt.headless=true \
			-Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Decom.devstack.data="$MONGO_DIR/data" \
			-cp "$MJS_LIBS/*:$MJS_CLASSES" Launcher --listen "127.0.0.1:$MONGO_PORT" "${backend[@]}"
		;;
	esac
}

# ---------------------------------------------------------------- postgres

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
}

pg_start() {
	pg_init
	msg "starting postgresql $("$PG_BIN/postgres" --version | sed -n 's/.*(PostgreSQL) \([^ ]*\).*/\1/p') on 127.0.0.1:$PG_PORT"
	# -W: do not wait here, the waits of all services overlap below
	if ! setsid nohup "${PG_RUN_AS[@]}" "$PG_BIN/pg_ctl" start -W -D "$PG_DATA" -l "$PG_LOG" \
		-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCK" \
		</dev/null >"$PG_DIR/pg_ctl.out" 2>&1 {LOCK_FD}>&-; then
		show_log_tail "$PG_DIR/pg_ctl.out"
		show_log_tail "$PG_LOG"
		die "postgres: pg_ctl start failed (log: $PG_LOG)"
	fi
	# pg_ctl -W returns before the postmaster writes its pid file; until it
	# does, the wait below would take the server for dead (seen after an
	# immediate stop, when start-up begins with recovery).
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -s $PG_DATA/postmaster.pid ]] && break
		sleep 0.1
	done
}

pg_setup_db() {
	local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres)
	if ! as_pg "${psql[@]}" >"$PG_DIR/setup.log" 2>&1 <<'EOF'; then
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

# ---------------------------------------------------------------- waiting

# wait until "$answers" succeeds; fail fast if the process died
wait_for() { # name timeout log answers-fn running-fn [console-log]
	local name=$1 timeout=$2 log=$3 answers=$4 running=$5 console=${6:-} deadline
	deadline=$((SECONDS + timeout))
	while ! "$answers" 2; do
		if ! "$running"; then
			if [[ -s $console ]]; then show_log_tail "$console"; fi
			show_log_tail "$log"
			die "$name exited during start-up (log: $log)"
		fi
		if ((SECONDS >= deadline)); then
			if [[ -s $console ]]; then show_log_tail "$console"; fi
			show_log_tail "$log"
			die "$name did not answer within ${timeout}s (log: $log); run 'devstack.sh down' to clean up"
		fi
		sleep 0.5
	done
}

# ---------------------------------------------------------------- commands

# serialises up and down on one state dir; the fd is never passed to a server
LOCK_FD=
take_lock() { # wait-seconds [soft]
	exec {LOCK_FD}>>"$STATE_DIR/.lock"
	flock -w "$1" "$LOCK_FD" && return 0
	[[ ${2:-} == soft ]] || die "another devstack.sh is busy with $STATE_DIR (lock $STATE_DIR/.lock)"
	msg "$STATE_DIR/.lock is still held after ${1}s; going on without it"
}

prepare_state_dir() {
	if [[ -e $STATE_DIR && ! -O $STATE_DIR ]]; then
		die "$STATE_DIR exists and is not owned by $(id -un): refusing to use it"
	fi
	mkdir -p "$STATE_DIR"
	[[ -d $STATE_DIR && -O $STATE_DIR ]] || die "cannot create $STATE_DIR"
	chmod 0755 "$STATE_DIR"
}

# up's operands: which services (default all three), checked
parse_services() {
	local svc
	SERVICES=()
	for svc in "$@"; do
		case $svc in
		kafka | mongodb | postgresql) has_service "$svc" || SERVICES+=("$svc") ;;
		*) usage_error "unknown service: $svc (want kafka, mongodb or postgresql)" ;;
		esac
	done
	((${#SERVICES[@]})) || SERVICES=("${ALL_SERVICES[@]}")
}

# the broker count `up` starts: --brokers N, else ECOM_KAFKA_BROKERS_COUNT, else 1
WANT_BROKERS=1

brokers_word() { if (($1 == 1)); then printf '1 broker'; else printf '%s brokers' "$1"; fi; }
kafka_all_answer() { local i; for ((i = 1; i <= KAFKA_COUNT; i++)); do kafka_answers "$i" 5 || return 1; done; }

# A stack keeps its broker count: one with another count, running or only
# on disk, must be taken down first.
kafka_check_count() {
	local on_disk i running=0
	on_disk=$(kafka_disk_count)
	if [[ -n $on_disk ]] && ((on_disk != WANT_BROKERS)); then
		KAFKA_COUNT=$on_disk
		for ((i = 1; i <= KAFKA_COUNT; i++)); do kafka_running "$i" && running=$((running + 1)); done
		if ((running > 0)); then
			die "a stack with $(brokers_word "$on_disk") is running in $STATE_DIR: run 'devstack.sh down' first to start one with $WANT_BROKERS"
		fi
		die "$STATE_DIR holds the data of a stack with $(brokers_word "$on_disk"): run 'devstack.sh down' first to start one with $WANT_BROKERS"
	fi
	KAFKA_COUNT=$WANT_BROKERS
}

cmd_up() {
	parse_services "$@"
	choose_mongo_server
	check_tools
	prepare_state_dir
	take_lock 600

	# a stack is up with what it was started with: more services may be
	# added by a later up, none is dropped
	local wanted=("${SERVICES[@]}") svc
	load_services
	if [[ -r $SERVICES_FILE ]]; then
		for svc in "${wanted[@]}"; do has_service "$svc" || SERVICES+=("$svc"); done
	else
		SERVICES=("${wanted[@]}")
	fi
	printf '%s\n' "${SERVICES[@]}" >"$SERVICES_FILE"
	# `up mongodb` on a stack that also runs PostgreSQL waits for it too:
	# find its tools (PG_BIN) as well
	if ((${#SERVICES[@]} != ${#wanted[@]})); then check_tools; fi

	load_ports || true
	local ms=0 ps=0 all_answer=1 i
	local -a kstopped=()
	if has_service kafka; then
		kafka_check_count
		for ((i = 1; i <= KAFKA_COUNT; i++)); do
			kafka_running "$i" || kstopped+=("$i")
		done
	fi
	if has_service mongodb; then mongo_running || ms=1; fi
	if has_service postgresql; then pg_running || ps=1; fi

	# a running server other than the one asked for is not switched under
	# the feet of whoever uses it
	local recorded
	recorded=$(recorded_mongo_server)
	if has_service mongodb && ((!ms)) && [[ -n $recorded && $recorded != "$MONGO_SERVER" ]]; then
		die "mongodb: this stack runs $recorded, ECOM_MONGO_SERVER asks for $MONGO_SERVER: run 'devstack.sh down' first, or use another ECOM_DEVSTACK_DIR"
	fi

	if ((${#kstopped[@]} + ms + ps == 0)); then
		if has_service kafka && ! kafka_all_answer; then all_answer=0; fi
		if has_service mongodb && ! mongo_answers 3; then all_answer=0; fi
		if has_service postgresql && ! pg_answers 3; then all_answer=0; fi
		if ((all_answer)); then
			msg "already up ($STATE_DIR)"
			env_line
			return 0
		fi
	fi

	# (re)choose the ports of stopped services that are missing or now taken;
	# brokers only when none runs: the running ones know the others' ports
	if ((${#kstopped[@]} == KAFKA_COUNT)); then
		for i in "${kstopped[@]}"; do
			if [[ -z ${KAFKA_PORTS[i]:-} ]] || port_busy "${KAFKA_PORTS[i]}"; then
				KAFKA_PORTS[i]=$(pick_port)
			fi
			if [[ -z ${KAFKA_CTRL_PORTS[i]:-} ]] || port_busy "${KAFKA_CTRL_PORTS[i]}"; then
				KAFKA_CTRL_PORTS[i]=$(pick_port)
			fi
		done
	else
		for i in "${kstopped[@]}"; do kafka_ports_free "$i"; done
	fi
	if ((ms)) && { [[ -z $MONGO_PORT ]] || port_busy "$MONGO_PORT"; }; then
		MONGO_PORT=$(pick_port)
	fi
	if ((ps)) && { [[ -z $PG_PORT ]] || port_busy "$PG_PORT"; }; then
		PG_PORT=$(pick_port)
	fi
	save_ports

	PG_RUN_AS=()
	if is_root; then PG_RUN_AS=(runuser -u postgres --); fi

	# start everything first, then wait: the start-ups overlap
	if ((ps)); then pg_start; fi
	if ((${#kstopped[@]})); then kafka_start "${kstopped[@]}"; fi
	if ((ms)); then mongo_start; fi

	local up=()
	if has_service postgresql; then
		wait_for postgresql "$PG_TIMEOUT" "$PG_LOG" pg_answers pg_running "$PG_DIR/pg_ctl.out"
		pg_setup_db
		up+=("postgresql 127.0.0.1:$PG_PORT")
	fi
	if has_service mongodb; then
		wait_for mongodb "$MONGO_TIMEOUT" "$(mongo_log)" mongo_answers mongo_running
		up+=("mongodb 127.0.0.1:$MONGO_PORT")
	fi
	if has_service kafka; then
		kafka_wait "${kstopped[@]}"
		up+=("kafka $(kafka_bootstrap)")
	fi
	local joined
	joined=$(printf '%s, ' "${up[@]}")
	msg "up: ${joined%, } (state: $STATE_DIR)"
	env_line
}

kafka_ports_free() { # node: die if another process took its ports
	local p
	for p in "${KAFKA_PORTS[$1]}" "${KAFKA_CTRL_PORTS[$1]}"; do
		if port_busy "$p"; then
			die "port $p of $(kafka_node_name "$1") is taken by another process: run 'devstack.sh down' first"
		fi
	done
}

cmd_down() {
	if [[ ! -d $STATE_DIR ]]; then
		msg "nothing to stop: $STATE_DIR does not exist"
		return 0
	fi
	[[ -O $STATE_DIR ]] || die "$STATE_DIR is not owned by $(id -un): refusing to touch it"
	take_lock 30 soft
	find_pg_bin || true
	local stopped=0
	stopped=$(kafka_stop_all)
	stop_pid mongodb "$MONGO_DIR/mongodb.pid" "$MONGO_DIR/data" && stopped=$((stopped + 1))
	if [[ -n $PG_BIN ]] && pg_stop; then stopped=$((stopped + 1)); fi
	if ((stopped == 0)); then
		msg "nothing was running"
	fi
	# remove only what up creates, never a whole user-chosen directory
	rm -rf "$KAFKA_DIR" "$MONGO_DIR" "$PG_DIR" "$PORTS_FILE" "$PORTS_FILE.tmp" "$SERVICES_FILE"
	rm -f "$STATE_DIR/.lock"
	rmdir "$STATE_DIR" 2>/dev/null || msg "left $STATE_DIR in place (it holds other files)"
	msg "down: stopped $stopped service(s), removed the data in $STATE_DIR"
}

cmd_status() {
	local all=0 state pid i on_disk
	load_services
	load_ports || true
	on_disk=$(kafka_disk_count)
	if [[ -n $on_disk ]]; then KAFKA_COUNT=$on_disk; fi
	find_pg_bin || true

	if has_service kafka; then
		for ((i = 1; i <= KAFKA_COUNT; i++)); do
			pid=$(kafka_pid "$i")
			if [[ -n ${KAFKA_PORTS[i]:-} ]] && kafka_running "$i" && kafka_answers "$i" 3; then state=up; else state=down; all=1; fi
			printf '%-10s pid=%-8s port=%-6s %s\n' "$(kafka_node_name "$i")" "${pid:--}" "${KAFKA_PORTS[i]:--}" "$state"
		done
	fi

	if has_service mongodb; then
		local name
		pid=$(mongo_pid)
		if [[ -n $MONGO_PORT ]] && mongo_running && mongo_answers 3; then
			state=up
			name=$(mongo_server_name)
		else
			state=down
			all=1
			name=$(recorded_mongo_server)
		fi
		printf '%-10s pid=%-8s port=%-6s %-4s  %s\n' mongodb "${pid:--}" "${MONGO_PORT:--}" "$state" "${name:--}"
	fi

	if has_service postgresql; then
		pid=$(pg_pid)
		if [[ -n $PG_PORT && -n $PG_BIN ]] && pg_running && pg_answers 3; then state=up; else state=down; all=1; fi
		printf '%-10s pid=%-8s port=%-6s %s\n' postgresql "${pid:--}" "${PG_PORT:--}" "$state"
	fi
	return "$all"
}

cmd_env() {
	local i
	load_services
	load_ports || die "not up: no ports in $STATE_DIR (run 'devstack.sh up')"
	if has_service kafka; then
		for ((i = 1; i <= KAFKA_COUNT; i++)); do
			kafka_running "$i" || die "not up: $(kafka_node_name "$i") is not running (run 'devstack.sh up')"
		done
	fi
	if has_service mongodb; then mongo_running || die "not up: mongodb is not running (run 'devstack.sh up')"; fi
	if has_service postgresql; then pg_running || die "not up: postgresql is not running (run 'devstack.sh up')"; fi
	env_line
}

# ---------------------------------------------------------------- chaos
# For tests that lose a broker: kill one by its pid file, start it again
# with the same config and data, wait until the cluster is whole again.

kafka_stack_node() { # node: load the stack and check the node number
	load_services
	load_ports || die "not up: no ports in $STATE_DIR (run 'devstack.sh up')"
	has_service kafka || die "the stack in $STATE_DIR has no kafka"
	if (($1 > KAFKA_COUNT)); then
		msg "no broker $1: the stack in $STATE_DIR has $KAFKA_COUNT"
		exit 2
	fi
}

cmd_kill_broker() { # node
	local i=$1 pid n
	kafka_stack_node "$i"
	take_lock 60
	pid=$(kafka_pid "$i")
	kafka_running "$i" || die "$(kafka_node_name "$i") is not running"
	kill -KILL "$pid" 2>/dev/null || true
	for ((n = 0; n < 100; n++)); do
		pid_is_ours "$pid" "$(kafka_node_dir "$i")/server.properties" || break
		sleep 0.1
	done
	kafka_running "$i" && die "$(kafka_node_name "$i") (pid $pid) still runs after kill -9"
	msg "killed $(kafka_node_name "$i") (pid $pid)"
}

cmd_start_broker() { # node
	local i=$1
	kafka_stack_node "$i"
	check_tools
	take_lock 600
	if kafka_running "$i"; then
		msg "$(kafka_node_name "$i") is already running (pid $(kafka_pid "$i"))"
		return 0
	fi
	kafka_ports_free "$i"
	kafka_start "$i"
	kafka_wait "$i"
	msg "$(kafka_node_name "$i") is up on 127.0.0.1:${KAFKA_PORTS[i]}"
}

cmd_wait_isr() { # timeout-seconds
	local timeout=$1 deadline out
	kafka_stack_node 1
	deadline=$((SECONDS + timeout))
	until out=$(kafka_metadata_check isr); do
		if ((SECONDS >= deadline)); then
			msg "not in sync after ${timeout}s:"
			printf '%s\n' "$out" | sed 's/^/  /' >&2
			exit 1
		fi
		sleep 0.5
	done
	msg "in sync: $out"
}

broker_count_arg() { # what value: 1 to KAFKA_MAX_BROKERS, else a usage error
	[[ $2 =~ ^[1-9][0-9]*$ ]] && (($2 <= KAFKA_MAX_BROKERS)) ||
		usage_error "$1 '$2': expected a number of brokers from 1 to $KAFKA_MAX_BROKERS"
}

main() {
	if (($# == 0)); then
		usage >&2
		exit 2
	fi
	local cmd=$1
	shift
	case $cmd in
	up)
		local flag= given=0
		local -a services=()
		while (($# > 0)); do
			case $1 in
			--brokers=*) flag=${1#*=} given=1 ;;
			--brokers)
				(($# > 1)) || usage_error "--brokers needs a number"
				flag=$2 given=1
				shift
				;;
			-*) usage_error "up: unknown option '$1'" ;;
			*) services+=("$1") ;;
			esac
			shift
		done
		if ((given)); then
			broker_count_arg --brokers "$flag"
			WANT_BROKERS=$flag
		elif [[ -n ${ECOM_KAFKA_BROKERS_COUNT:-} ]]; then
			broker_count_arg ECOM_KAFKA_BROKERS_COUNT "$ECOM_KAFKA_BROKERS_COUNT"
			WANT_BROKERS=$ECOM_KAFKA_BROKERS_COUNT
		fi
		cmd_up "${services[@]}"
		;;
	kill-broker | start-broker)
		(($# == 1)) || usage_error "$cmd needs one broker number"
		[[ $1 =~ ^[1-9]$ ]] || usage_error "$cmd '$1': expected a broker number from 1 to $KAFKA_MAX_BROKERS"
		if [[ $cmd == kill-broker ]]; then cmd_kill_broker "$1"; else cmd_start_broker "$1"; fi
		;;
	wait-isr)
		(($# <= 1)) || usage_error "wait-isr takes at most one argument, a timeout"
		[[ ${1:-60} =~ ^[1-9][0-9]{0,3}$ ]] || usage_error "wait-isr '$1': expected a timeout in seconds from 1 to 9999"
		cmd_wait_isr "${1:-60}"
		;;
	down | status | env | packages | -h | --help | help)
		if (($# > 0)); then
			msg "$cmd takes no arguments"
			usage >&2
			exit 2
		fi
		case $cmd in
		down) cmd_down ;;
		status) cmd_status ;;
		env) cmd_env ;;
		packages) printf '%s\n' "${DEBIAN_PACKAGES[@]}" ;;
		*) usage ;;
		esac
		;;
	*)
		msg "unknown command: $cmd"
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
