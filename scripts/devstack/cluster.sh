# shellcheck shell=bash
# devstack/cluster.sh: the commands for tests that lose a broker: kill one
# by its pid file (kill-broker), start it again with the same config and
# data (start-broker), wait until the cluster is whole again (wait-isr).
# Sourced by devstack.sh after common.sh and kafka.sh.

kafka_stack_node() { # node: load the stack and check the node number
	load_services
	secure_load
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
