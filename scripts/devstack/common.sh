# shellcheck shell=bash
# devstack/common.sh: what every part of devstack.sh shares: the state
# directory's layout, messages, pid files, ports, the services of a stack,
# starting and stopping a server, waiting for it, and the state-dir lock.
# Sourced by devstack.sh, which sets SCRIPT_DIR (where it really lives).

readonly DEBIAN_PACKAGES=(openjdk-17-jre-headless openjdk-17-jdk-headless maven kcat python3 postgresql
	iproute2 util-linux openssl)
readonly ALL_SERVICES=(kafka mongodb postgresql)

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

# Kafka: KAFKA_COUNT brokers, broker i (1-based) listens on KAFKA_PORTS[i]
# (clients).  One broker is also the KRaft controller, on
# KAFKA_CTRL_PORTS[1]; a cluster has a dedicated controller, node 0, on
# KAFKA_CTRL_PORTS[0], and brokers that are only brokers.
readonly KAFKA_MAX_BROKERS=9
KAFKA_COUNT=1
KAFKA_PORTS=()
KAFKA_CTRL_PORTS=()
# a secure stack's node 1 also has two listeners that refuse every client,
# for the tests of refused connections: one serves a certificate that has
# expired, the other asks for a client certificate
KAFKA_EXPIRED_PORT=
KAFKA_CLIENTCERT_PORT=
MONGO_PORT=
PG_PORT=
# the services of this stack (up's operands, or what an earlier up started)
SERVICES=()

msg() { printf 'devstack: %s\n' "$*" >&2; }
die() { msg "$*"; exit 1; }
usage_error() { msg "$*"; exit 2; }

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

pick_port() { # a free port, not one of the stack's
	local p i used
	for ((i = 0; i < 200; i++)); do
		p=$((PORT_MIN + (RANDOM * 32768 + RANDOM) % PORT_SPAN))
		for used in "${KAFKA_PORTS[@]}" "${KAFKA_CTRL_PORTS[@]}" "$KAFKA_EXPIRED_PORT" "$KAFKA_CLIENTCERT_PORT" \
			"$MONGO_PORT" "$PG_PORT"; do
			[[ $p == "$used" ]] && continue 2
		done
		port_busy "$p" || { printf '%s' "$p"; return 0; }
	done
	die "no free tcp port found in $PORT_MIN-$((PORT_MIN + PORT_SPAN - 1))"
}

load_ports() {
	[[ -r $PORTS_FILE ]] || return 1
	local k v i ctrl=''
	KAFKA_COUNT=1 # a file without the count is a one-broker stack
	while IFS='=' read -r k v; do
		[[ $v =~ ^[0-9]+$ ]] || continue
		case $k in
		KAFKA_BROKERS_COUNT) KAFKA_COUNT=$v ;;
		KAFKA_PORT) KAFKA_PORTS[1]=$v ;;
		KAFKA_CONTROLLER_PORT) ctrl=$v ;;
		KAFKA_PORT_[0-9]) KAFKA_PORTS[${k#KAFKA_PORT_}]=$v ;;
		KAFKA_EXPIRED_PORT) KAFKA_EXPIRED_PORT=$v ;;
		KAFKA_CLIENTCERT_PORT) KAFKA_CLIENTCERT_PORT=$v ;;
		MONGO_PORT) MONGO_PORT=$v ;;
		PG_PORT) PG_PORT=$v ;;
		esac
	done <"$PORTS_FILE"
	# the controller's port: node 1's on one broker, node 0's on a cluster
	KAFKA_CTRL_PORTS=()
	if [[ -n $ctrl ]]; then KAFKA_CTRL_PORTS[$(kafka_quorum_node)]=$ctrl; fi
	local svc
	for svc in "${SERVICES[@]}"; do
		case $svc in
		kafka)
			[[ -n ${KAFKA_CTRL_PORTS[$(kafka_quorum_node)]:-} ]] || return 1
			for ((i = 1; i <= KAFKA_COUNT; i++)); do
				[[ -n ${KAFKA_PORTS[i]:-} ]] || return 1
			done
			;;
		mongodb) [[ -n $MONGO_PORT ]] || return 1 ;;
		postgresql) [[ -n $PG_PORT ]] || return 1 ;;
		esac
	done
}

# broker 1 keeps the names a one-broker stack always had, so that an older
# devstack.sh reads a one-broker stack's file too; KAFKA_CONTROLLER_PORT is
# the controller's, broker 1's own on one broker, the dedicated one's on a
# cluster
save_ports() {
	local tmp=$PORTS_FILE.tmp i
	{
		printf 'KAFKA_BROKERS_COUNT=%s\n' "$KAFKA_COUNT"
		printf 'KAFKA_PORT=%s\nKAFKA_CONTROLLER_PORT=%s\n' "${KAFKA_PORTS[1]:-}" \
			"${KAFKA_CTRL_PORTS[$(kafka_quorum_node)]:-}"
		for ((i = 2; i <= KAFKA_COUNT; i++)); do
			printf 'KAFKA_PORT_%s=%s\n' "$i" "${KAFKA_PORTS[i]:-}"
		done
		if [[ -n $KAFKA_EXPIRED_PORT ]]; then
			printf 'KAFKA_EXPIRED_PORT=%s\nKAFKA_CLIENTCERT_PORT=%s\n' "$KAFKA_EXPIRED_PORT" "$KAFKA_CLIENTCERT_PORT"
		fi
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
