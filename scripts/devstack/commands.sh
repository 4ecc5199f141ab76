# shellcheck shell=bash
# devstack/commands.sh: the commands up, down, status and env over the
# services of kafka.sh, mongodb.sh and postgresql.sh.
# Sourced by devstack.sh after the service parts.

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
	if ((SECURE)); then need openssl openssl; fi
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

# The export line; a secure stack's carries its passwords (the Kafka ones
# in the ECOM_CONFIG file it names): it is for the user's own shell.
env_line() {
	local vars=() name
	if ((SECURE)); then
		vars+=("ECOM_CONFIG=$(printf '%q' "$CLIENT_CONFIG")")
		has_service kafka && vars+=("ECOM_KAFKA_BROKERS=$(kafka_bootstrap)")
		if has_service mongodb; then
			# FerretDB's user is in database admin (authSource)
			local login='' auth=''
			if mongo_has_auth; then login="$MONGO_USER:$MONGO_PASSWORD@" auth='&authSource=admin'; fi
			vars+=("ECOM_MONGODB_URI=$(printf '%q' "mongodb://$login$SECURE_HOST:$MONGO_PORT/ecommerce?tls=true&tlsCAFile=$TLS_DIR/ca.crt$auth")")
		fi
		has_service postgresql && vars+=("ECOM_POSTGRES_URI=$(printf '%q' "postgresql://ecom:$PG_PASSWORD@$SECURE_HOST:$PG_PORT/ecommerce?sslmode=verify-full&sslrootcert=$TLS_DIR/ca.crt")")
	else
		has_service kafka && vars+=("ECOM_KAFKA_BROKERS=$(kafka_bootstrap)")
		has_service mongodb && vars+=("ECOM_MONGODB_URI=mongodb://127.0.0.1:$MONGO_PORT/ecommerce")
		has_service postgresql && vars+=("ECOM_POSTGRES_URI=postgresql://ecom:ecom@127.0.0.1:$PG_PORT/ecommerce")
	fi
	printf 'export %s\n' "${vars[*]}"
	if has_service mongodb; then
		name=$(mongo_server_name)
		printf '# mongodb: %s\n' "$name"
	fi
	if ((SECURE)); then printf '# secure: %s\n' "$(secure_summary)"; fi
}

# what a secure stack gives, per service, for env and status
secure_summary() {
	local parts=()
	has_service kafka && parts+=("kafka SASL_SSL only, $KAFKA_SCRAM_MECHANISM or PLAIN")
	has_service mongodb && parts+=("$(mongo_security)")
	has_service postgresql && parts+=("postgresql hostssl only, scram-sha-256")
	parts+=("CA $TLS_DIR/ca.crt, certificate for DNS:$SECURE_HOST")
	if has_service kafka && [[ -n $KAFKA_EXPIRED_PORT ]]; then
		parts+=("kafka listeners that refuse every client, for tests: $SECURE_HOST:$KAFKA_EXPIRED_PORT (a certificate that has expired), $SECURE_HOST:$KAFKA_CLIENTCERT_PORT (asks for a client certificate)")
	fi
	local joined
	joined=$(printf '%s; ' "${parts[@]}")
	printf '%s' "${joined%; }"
}

# up's options and operands: WANT_BROKERS from --brokers N, else
# ECOM_KAFKA_BROKERS_COUNT; the services named into UP_OPERANDS
UP_OPERANDS=()
parse_up_args() {
	local flag='' given=0
	while (($# > 0)); do
		case $1 in
		--brokers=*) flag=${1#*=} given=1 ;;
		--secure) WANT_SECURE=1 ;;
		--brokers)
			(($# > 1)) || usage_error "--brokers needs a number"
			flag=$2 given=1
			shift
			;;
		-*) usage_error "up: unknown option '$1'" ;;
		*) UP_OPERANDS+=("$1") ;;
		esac
		shift
	done
	secure_env_arg
	if ((given)); then
		broker_count_arg --brokers "$flag"
		WANT_BROKERS=$flag
	elif [[ -n ${ECOM_KAFKA_BROKERS_COUNT:-} ]]; then
		broker_count_arg ECOM_KAFKA_BROKERS_COUNT "$ECOM_KAFKA_BROKERS_COUNT"
		WANT_BROKERS=$ECOM_KAFKA_BROKERS_COUNT
	fi
}

broker_count_arg() { # what value: 1 to KAFKA_MAX_BROKERS, else a usage error
	if [[ ! $2 =~ ^[1-9][0-9]*$ ]] || (($2 > KAFKA_MAX_BROKERS)); then
		usage_error "$1 '$2': expected a number of brokers from 1 to $KAFKA_MAX_BROKERS"
	fi
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

# What one `up` finds stopped, and so starts: Kafka's nodes, the
# MongoDB-protocol server (1), PostgreSQL (1).
UP_KAFKA_STOPPED=()
UP_MONGO_STOPPED=0
UP_PG_STOPPED=0

# Without a count asked for, up of Kafka (by name or as one of all three)
# means one broker; up of other services keeps the count of the stack's
# Kafka, running or on disk: restarting PostgreSQL on a three-broker stack
# (chaos.sh --store-kills) must not ask for a new Kafka.
up_broker_count() {
	[[ -z $WANT_BROKERS ]] || return 0
	if has_service kafka; then
		WANT_BROKERS=1
	else
		WANT_BROKERS=$(kafka_disk_count)
		WANT_BROKERS=${WANT_BROKERS:-1}
	fi
}

cmd_up() {
	parse_services "$@"
	up_broker_count
	secure_choose
	choose_mongo_server
	mongo_check_secure
	check_tools
	prepare_state_dir
	take_lock 600
	secure_prepare
	up_record_services
	load_ports || true
	up_find_stopped
	if up_all_answer; then
		msg "already up ($STATE_DIR)"
		env_line
		return 0
	fi
	up_choose_ports
	save_ports
	# start everything first, then wait: the start-ups overlap
	if ((UP_PG_STOPPED)); then pg_start; fi
	if ((${#UP_KAFKA_STOPPED[@]})); then kafka_start "${UP_KAFKA_STOPPED[@]}"; fi
	if ((UP_MONGO_STOPPED)); then mongo_start; fi
	up_wait_all
	env_line
}

# A stack is up with what it was started with: more services may be added
# by a later up, none is dropped.
up_record_services() {
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
}

up_find_stopped() {
	local i recorded
	UP_KAFKA_STOPPED=() UP_MONGO_STOPPED=0 UP_PG_STOPPED=0
	if has_service kafka; then
		kafka_check_count
		kafka_all_nodes
		for i in "${KAFKA_NODES[@]}"; do
			kafka_running "$i" || UP_KAFKA_STOPPED+=("$i")
		done
	fi
	if has_service mongodb; then mongo_running || UP_MONGO_STOPPED=1; fi
	if has_service postgresql; then pg_running || UP_PG_STOPPED=1; fi

	# a running server other than the one asked for is not switched under
	# the feet of whoever uses it
	recorded=$(recorded_mongo_server)
	if has_service mongodb && ((!UP_MONGO_STOPPED)) && [[ -n $recorded && $recorded != "$MONGO_SERVER" ]]; then
		die "mongodb: this stack runs $recorded, ECOM_MONGO_SERVER asks for $MONGO_SERVER: run 'devstack.sh down' first, or use another ECOM_DEVSTACK_DIR"
	fi
}

up_all_answer() { # every server of the stack runs and answers
	((${#UP_KAFKA_STOPPED[@]} + UP_MONGO_STOPPED + UP_PG_STOPPED == 0)) || return 1
	if has_service kafka && ! kafka_all_answer; then return 1; fi
	if has_service mongodb && ! mongo_answers 3; then return 1; fi
	if has_service postgresql && ! pg_answers 3; then return 1; fi
	return 0
}

# (re)choose the ports of stopped services that are missing or now taken
up_choose_ports() {
	kafka_choose_ports "${UP_KAFKA_STOPPED[@]}"
	if ((UP_MONGO_STOPPED)) && { [[ -z $MONGO_PORT ]] || port_busy "$MONGO_PORT"; }; then
		MONGO_PORT=$(pick_port)
	fi
	if ((UP_PG_STOPPED)) && { [[ -z $PG_PORT ]] || port_busy "$PG_PORT"; }; then
		PG_PORT=$(pick_port)
	fi
}

up_wait_all() {
	local up=() joined
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
		kafka_wait "${UP_KAFKA_STOPPED[@]}"
		up+=("kafka $(kafka_bootstrap)")
	fi
	joined=$(printf '%s, ' "${up[@]}")
	msg "up: ${joined%, } (state: $STATE_DIR)"
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
	secure_remove
	rm -f "$STATE_DIR/.lock"
	rmdir "$STATE_DIR" 2>/dev/null || msg "left $STATE_DIR in place (it holds other files)"
	msg "down: stopped $stopped service(s), removed the data in $STATE_DIR"
}

cmd_status() {
	local all=0 state pid port i on_disk
	load_services
	secure_load
	load_ports || true
	on_disk=$(kafka_disk_count)
	if [[ -n $on_disk ]]; then KAFKA_COUNT=$on_disk; fi
	find_pg_bin || true

	if has_service kafka; then
		kafka_all_nodes
		for i in "${KAFKA_NODES[@]}"; do
			pid=$(kafka_pid "$i")
			port=$(kafka_node_port "$i")
			if [[ -n $port ]] && kafka_running "$i" && kafka_answers "$i" 3; then state=up; else state=down; all=1; fi
			printf '%-10s pid=%-8s port=%-6s %s\n' "$(kafka_node_name "$i")" "${pid:--}" "${port:--}" "$state"
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
	if ((SECURE)); then
		printf '%-10s %s\n' security "secure: $(secure_summary)"
	else
		printf '%-10s %s\n' security "plain: no TLS, no authentication on Kafka and MongoDB"
	fi
	return "$all"
}

cmd_env() {
	local i
	load_services
	secure_load
	load_ports || die "not up: no ports in $STATE_DIR (run 'devstack.sh up')"
	if has_service kafka; then
		kafka_all_nodes
		for i in "${KAFKA_NODES[@]}"; do
			kafka_running "$i" || die "not up: $(kafka_node_name "$i") is not running (run 'devstack.sh up')"
		done
	fi
	if has_service mongodb; then mongo_running || die "not up: mongodb is not running (run 'devstack.sh up')"; fi
	if has_service postgresql; then pg_running || die "not up: postgresql is not running (run 'devstack.sh up')"; fi
	env_line
}
