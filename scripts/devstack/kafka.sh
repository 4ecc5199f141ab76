# shellcheck shell=bash
# devstack/kafka.sh: Kafka in KRaft mode, one node (a broker and the
# controller) or a cluster of N brokers and a dedicated controller: the
# jars, each node's config and data, starting, waiting, the cluster's
# metadata check, stopping.
# Sourced by devstack.sh after common.sh.

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
# kafka/kafka.pid, kafka/data), and is the KRaft controller too.  A cluster
# of N: broker i (process.roles=broker) lives in kafka/kafka-i, and node 0,
# the dedicated controller (process.roles=controller), in kafka/controller:
# a broker's loss then never costs an election, nor a new controller's
# wait of one broker session before it fences the lost broker
# (doc/broker-loss.md).  The controller is one JVM, not three: a single
# point of failure, but kill-broker acts on brokers only.
kafka_node_dir() {
	if ((KAFKA_COUNT == 1)); then
		printf '%s' "$KAFKA_DIR"
	elif (($1 == 0)); then
		printf '%s' "$KAFKA_DIR/controller"
	else
		printf '%s' "$KAFKA_DIR/kafka-$1"
	fi
}
kafka_node_name() {
	if ((KAFKA_COUNT == 1)); then
		printf 'kafka'
	elif (($1 == 0)); then
		printf 'controller'
	else
		printf 'kafka-%s' "$1"
	fi
}
# the node that is the KRaft controller: 1 on one broker, else 0
kafka_quorum_node() { if ((KAFKA_COUNT == 1)); then printf '1'; else printf '0'; fi; }
# the node is only a controller (a cluster's node 0)
kafka_controller_only() { ((KAFKA_COUNT > 1 && $1 == 0)); }
# every node of the stack, the controller first: KAFKA_NODES
KAFKA_NODES=()
kafka_all_nodes() {
	local i
	KAFKA_NODES=()
	if ((KAFKA_COUNT > 1)); then KAFKA_NODES=(0); fi
	for ((i = 1; i <= KAFKA_COUNT; i++)); do KAFKA_NODES+=("$i"); done
}
# the port a node is reached on: a broker's client port, else the controller's
kafka_node_port() {
	if kafka_controller_only "$1"; then printf '%s' "${KAFKA_CTRL_PORTS[0]:-}"; else printf '%s' "${KAFKA_PORTS[$1]:-}"; fi
}

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
	local i=$1 dir q roles what rf min_isr
	dir=$(kafka_node_dir "$i")
	mkdir -p "$dir/data" "$dir/logs"
	q=$(kafka_quorum_node)
	if ((KAFKA_COUNT == 1)); then
		roles=broker,controller what='a one-node development broker, its own KRaft controller'
	elif ((i == 0)); then
		roles=controller what="the KRaft controller of a development cluster of $KAFKA_COUNT brokers, and no broker"
	else
		roles=broker what="broker $i of a development cluster of $KAFKA_COUNT, with a dedicated controller (node 0)"
	fi
	# a cluster of three or more: the documented production settings
	# (replication factor 3, two in-sync replicas for acks=all); fewer
	# nodes replicate on all of them and ack with one
	rf=$((KAFKA_COUNT < 3 ? KAFKA_COUNT : 3))
	min_isr=$((rf < 3 ? 1 : 2))
	# 0600: a secure stack's file holds the broker's passwords
	(umask 077 && : >"$dir/server.properties")
	cat >"$dir/server.properties" <<EOF
# written by scripts/devstack.sh; $what
process.roles=$roles
node.id=$i
controller.quorum.voters=$q@127.0.0.1:${KAFKA_CTRL_PORTS[q]}
$(kafka_listener_config "$i")
controller.listener.names=CONTROLLER
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
# A broker killed with -9 is fenced by the controller (its partitions,
# group and transaction coordinators led elsewhere) once it has missed
# heartbeats for this long: 9 s by default, a pause every client sees,
# longer than the consumers' session.timeout.ms (6 s), so that each group
# it coordinated lost its members and rebalanced on top.  2 s, a
# heartbeat every 0.5 s (four missed).  On a cluster the controller is no
# broker: a broker's loss costs no election.
broker.session.timeout.ms=2000
broker.heartbeat.interval.ms=500
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

# The listeners of node $1: PLAINTEXT for clients and brokers; on a secure
# stack SASL_SSL instead (SCRAM, the brokers too; PLAIN as well, the
# managed services' usual form, same user and password), so that clients
# have no other way in.  The KRaft controller talks PLAINTEXT on loopback:
# its listener answers no client request.  A cluster's controller has that
# listener only; its brokers have none of it.
kafka_listener_config() {
	local i=$1 ctrl=''
	if kafka_controller_only "$i"; then
		cat <<EOF
listeners=CONTROLLER://127.0.0.1:${KAFKA_CTRL_PORTS[i]}
listener.security.protocol.map=CONTROLLER:PLAINTEXT
EOF
		return 0
	fi
	if ((KAFKA_COUNT == 1)); then ctrl=",CONTROLLER://127.0.0.1:${KAFKA_CTRL_PORTS[i]}"; fi
	if ((!SECURE)); then
		cat <<EOF
listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORTS[i]}$ctrl
advertised.listeners=PLAINTEXT://127.0.0.1:${KAFKA_PORTS[i]}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
EOF
		return 0
	fi
	# node 1's two listeners that refuse everyone (see common.sh), SASL_SSL
	# too: no way in without TLS and a password
	local listeners="SASL_SSL://127.0.0.1:${KAFKA_PORTS[i]}" advertised="SASL_SSL://$SECURE_HOST:${KAFKA_PORTS[i]}"
	local map=SASL_SSL:SASL_SSL names=(sasl_ssl) name
	local refusing=0
	if ((i == 1)) && [[ -n $KAFKA_EXPIRED_PORT && -n $KAFKA_CLIENTCERT_PORT ]]; then refusing=1; fi
	if ((refusing)); then
		listeners+=",EXPIRED://127.0.0.1:$KAFKA_EXPIRED_PORT,CLIENTCERT://127.0.0.1:$KAFKA_CLIENTCERT_PORT"
		advertised+=",EXPIRED://$SECURE_HOST:$KAFKA_EXPIRED_PORT,CLIENTCERT://$SECURE_HOST:$KAFKA_CLIENTCERT_PORT"
		map+=,EXPIRED:SASL_SSL,CLIENTCERT:SASL_SSL
		names+=(expired clientcert)
	fi
	cat <<EOF
listeners=$listeners$ctrl
advertised.listeners=$advertised
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,$map
sasl.enabled.mechanisms=$KAFKA_SCRAM_MECHANISM,PLAIN
sasl.mechanism.inter.broker.protocol=$KAFKA_SCRAM_MECHANISM
EOF
	for name in "${names[@]}"; do
		cat <<EOF
listener.name.$name.$(tr 'A-Z' 'a-z' <<<"$KAFKA_SCRAM_MECHANISM").sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$KAFKA_USER" password="$KAFKA_PASSWORD";
listener.name.$name.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$KAFKA_USER" password="$KAFKA_PASSWORD" user_$KAFKA_USER="$KAFKA_PASSWORD";
EOF
	done
	if ((refusing)); then
		cat <<EOF
listener.name.expired.ssl.keystore.type=PKCS12
listener.name.expired.ssl.keystore.location=$TLS_DIR/expired.p12
listener.name.expired.ssl.keystore.password=$KEYSTORE_PASSWORD
listener.name.expired.ssl.key.password=$KEYSTORE_PASSWORD
listener.name.clientcert.ssl.client.auth=required
EOF
	fi
	cat <<EOF
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/server.p12
ssl.keystore.password=$KEYSTORE_PASSWORD
ssl.key.password=$KEYSTORE_PASSWORD
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.crt
ssl.client.auth=none
EOF
}

kafka_pid() { read_pid "$(kafka_node_dir "$1")/kafka.pid"; }
kafka_running() { local p; p=$(kafka_pid "$1"); pid_is_ours "$p" "$(kafka_node_dir "$1")/server.properties"; }
kafka_answers() { # node [timeout]: a broker answers kcat -L; the controller listens
	if kafka_controller_only "$1"; then
		port_busy "${KAFKA_CTRL_PORTS[0]}"
		return
	fi
	kcat_security_args
	kcat -L "${KCAT_SEC[@]}" -b "$(stack_host):${KAFKA_PORTS[$1]}" -m "${2:-5}" >/dev/null 2>&1
}
kafka_log() { printf '%s' "$(kafka_node_dir "$1")/logs/server.log"; }
# for wait_for, which takes function names: the node in KNODE
KNODE=1
kafka_knode_answers() { kafka_answers "$KNODE" "$@"; }
kafka_knode_running() { kafka_running "$KNODE"; }

# the words given, one a line, quoted for a java @argfile (which splits
# at blanks and takes \\ and \" in quotes as escapes)
java_argfile_words() {
	local w
	for w in "$@"; do
		w=${w//\\/\\\\}
		printf '"%s"\n' "${w//\"/\\\"}"
	done
}

# Give every node without a formatted data dir the stack's cluster id (that
# of a node already formatted, else a new one); the formats run side by side.
kafka_format() {
	local i dir cid='' f failed=0
	local -a pids=() nodes=()
	kafka_all_nodes
	for i in "${KAFKA_NODES[@]}"; do
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
	# The main class and its arguments go in a java @argfile (0600), not on
	# the command line: a secure stack's SCRAM user exists before the first
	# start (KRaft has no other way), and StorageTool takes its password in
	# an argument only, which anyone on the machine could read in ps.  Not
	# the salted form either (iterations, salt, saltedpassword): a SCRAM
	# client that has the salted password can log in with it.
	# Only the controller's counts: it writes the user into the cluster's
	# metadata when it first starts, and the brokers read it from there; a
	# broker's copy would only be one more file with the password.
	# --cluster-id=: a random id may begin with '-', which would be taken for
	# an option.
	for i in "${nodes[@]}"; do
		dir=$(kafka_node_dir "$i")
		(
			umask 077
			{
				java_argfile_words kafka.tools.StorageTool format "--cluster-id=$cid" -c "$dir/server.properties"
				if ((SECURE && i == $(kafka_quorum_node))); then
					java_argfile_words --add-scram "$KAFKA_SCRAM_MECHANISM=[name=$KAFKA_USER,password=$KAFKA_PASSWORD]"
				fi
			} >"$dir/format.args"
			# its log too: a refused argument may be echoed there
			: >"$dir/format.log"
		)
		java -Xmx256m -XX:TieredStopAtLevel=1 -cp "$KAFKA_LIBS/*" \
			-Dlog4j.configuration="file:$dir/log4j.properties" "@$dir/format.args" \
			>"$dir/format.log" 2>&1 {LOCK_FD}>&- &
		pids+=("$!")
	done
	for ((i = 0; i < ${#pids[@]}; i++)); do
		dir=$(kafka_node_dir "${nodes[i]}")
		if ! wait "${pids[i]}"; then
			show_log_tail "$dir/format.log"
			msg "kafka: storage format of $(kafka_node_name "${nodes[i]}") failed (log: $dir/format.log)"
			failed=1
		fi
		rm -f "$dir/format.args"
	done
	((failed == 0)) || exit 1
}

# Start the given nodes (configs written, data formatted); nothing waits here.
kafka_start() { # node...
	local i dir heap
	kafka_resolve_libs
	for i in "$@"; do kafka_write_config "$i"; done
	kafka_format
	for i in "$@"; do
		dir=$(kafka_node_dir "$i")
		# three brokers share a 2-core machine with PostgreSQL and a
		# MongoDB-protocol server: their heaps are bounded lower than one's;
		# the controller keeps only the cluster's metadata
		if ((KAFKA_COUNT == 1)); then
			heap=(-Xmx512m -Xms256m)
			msg "starting kafka (kafka $(kafka_version)) on 127.0.0.1:${KAFKA_PORTS[i]} (controller :${KAFKA_CTRL_PORTS[i]})"
		elif ((i == 0)); then
			heap=(-Xmx256m -Xms64m)
			msg "starting controller (kafka $(kafka_version), KRaft controller only) on 127.0.0.1:${KAFKA_CTRL_PORTS[i]}"
		else
			heap=(-Xmx384m -Xms128m)
			msg "starting kafka-$i (kafka $(kafka_version), broker only) on 127.0.0.1:${KAFKA_PORTS[i]}"
		fi
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
# every broker is registered (with the controller: the controller node
# itself never shows there); `isr`: that, and every partition of every
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
	kcat_security_args
	kcat -L -J "${KCAT_SEC[@]}" -b "$(kafka_bootstrap)" -m 5 2>/dev/null | python3 -c "$KAFKA_CHECK_PY" "$KAFKA_COUNT" "$1"
}

# Stop every Kafka node whose pid file is in the state dir: TERM to all the
# brokers at once (a cluster stops in one round of controlled shutdowns),
# then KILL what is left after STOP_TIMEOUT; then the same for a cluster's
# controller, which the brokers' controlled shutdowns need.  Prints how
# many were running.
KAFKA_STOPPED=0
kafka_stop_all() {
	KAFKA_STOPPED=0
	kafka_stop_dirs "$KAFKA_DIR" "$KAFKA_DIR"/kafka-[1-9]
	kafka_stop_dirs "$KAFKA_DIR/controller"
	printf '%s' "$KAFKA_STOPPED"
}
kafka_stop_dirs() { # dir...: TERM, wait, KILL; adds to KAFKA_STOPPED
	local dir pid i n=0
	local -a pids=() names=()
	for dir in "$@"; do
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
	KAFKA_STOPPED=$((KAFKA_STOPPED + ${#pids[@]}))
}

kafka_bootstrap() { # every broker, comma-separated
	local i list=''
	for ((i = 1; i <= KAFKA_COUNT; i++)); do
		list+="${list:+,}$(stack_host):${KAFKA_PORTS[i]}"
	done
	printf '%s' "$list"
}

kafka_ports_free() { # node: die if another process took its ports
	local p
	for p in "${KAFKA_PORTS[$1]:-}" "${KAFKA_CTRL_PORTS[$1]:-}"; do
		[[ -n $p ]] || continue
		if port_busy "$p"; then
			die "port $p of $(kafka_node_name "$1") is taken by another process: run 'devstack.sh down' first"
		fi
	done
}

# The ports of the stopped nodes given: all chosen afresh where missing or
# taken when no node runs; else the running ones know the others' ports,
# which must still be free.
kafka_choose_ports() { # node...
	local i q
	kafka_all_nodes
	q=$(kafka_quorum_node)
	if (($# == ${#KAFKA_NODES[@]})); then
		for i in "$@"; do
			if ((i > 0)) && { [[ -z ${KAFKA_PORTS[i]:-} ]] || port_busy "${KAFKA_PORTS[i]}"; }; then
				KAFKA_PORTS[i]=$(pick_port)
			fi
			if ((i == q)) && { [[ -z ${KAFKA_CTRL_PORTS[i]:-} ]] || port_busy "${KAFKA_CTRL_PORTS[i]}"; }; then
				KAFKA_CTRL_PORTS[i]=$(pick_port)
			fi
		done
	else
		for i in "$@"; do kafka_ports_free "$i"; done
	fi
	# node 1's refusing listeners (secure stacks): only node 1 knows them
	if ((SECURE)) && [[ " $* " == *" 1 "* ]]; then
		if [[ -z $KAFKA_EXPIRED_PORT ]] || port_busy "$KAFKA_EXPIRED_PORT"; then
			KAFKA_EXPIRED_PORT=$(pick_port)
		fi
		if [[ -z $KAFKA_CLIENTCERT_PORT ]] || port_busy "$KAFKA_CLIENTCERT_PORT"; then
			KAFKA_CLIENTCERT_PORT=$(pick_port)
		fi
	fi
}

# the broker count `up` asks for: --brokers N, else ECOM_KAFKA_BROKERS_COUNT;
# '' when neither is given (see up_broker_count)
WANT_BROKERS=

brokers_word() { if (($1 == 1)); then printf '1 broker'; else printf '%s brokers' "$1"; fi; }
kafka_all_answer() {
	local i
	kafka_all_nodes
	for i in "${KAFKA_NODES[@]}"; do kafka_answers "$i" 5 || return 1; done
}

# A stack keeps its broker count: one with another count, running or only
# on disk, must be taken down first.  So does a cluster of an older
# devstack.sh, whose every node was a broker and a controller (no
# kafka/controller): its data cannot serve brokers that are only brokers.
kafka_check_count() {
	local on_disk i running=0
	on_disk=$(kafka_disk_count)
	if [[ -n $on_disk ]] && ((on_disk != WANT_BROKERS)); then
		KAFKA_COUNT=$on_disk
		kafka_all_nodes
		for i in "${KAFKA_NODES[@]}"; do kafka_running "$i" && running=$((running + 1)); done
		if ((running > 0)); then
			die "a stack with $(brokers_word "$on_disk") is running in $STATE_DIR: run 'devstack.sh down' first to start one with $WANT_BROKERS"
		fi
		die "$STATE_DIR holds the data of a stack with $(brokers_word "$on_disk"): run 'devstack.sh down' first to start one with $WANT_BROKERS"
	fi
	if [[ -n $on_disk ]] && ((on_disk > 1)) && [[ ! -d $KAFKA_DIR/controller ]]; then
		die "$STATE_DIR holds a cluster of an older devstack.sh, every node a broker and a controller: run 'devstack.sh down' first to start one with a dedicated controller"
	fi
	KAFKA_COUNT=$WANT_BROKERS
}
