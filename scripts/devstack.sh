#!/usr/bin/env bash
# devstack.sh: real Kafka, MongoDB-protocol and PostgreSQL servers for
# integration tests and benchmarks, on 127.0.0.1, on free ports, in a scratch
# directory. README.md tells how the tests and benchmarks use it.  This file
# is the dispatcher; the work is in the parts it sources from devstack/
# beside it: common.sh (state dir, pid files, ports, waiting), kafka.sh,
# mongodb.sh, postgresql.sh, cluster.sh (kill-broker, start-broker,
# wait-isr), commands.sh (up, down, status, env) and secure.sh (the
# certificates and passwords of a secure stack).
#
#   eval "$(scripts/devstack.sh up)"   # start (or reuse) and export ECOM_* vars
#   eval "$(scripts/devstack.sh up --brokers 3)"   # the same, Kafka on 3 nodes
#   eval "$(scripts/devstack.sh up --secure)"      # TLS and passwords (below)
#   scripts/devstack.sh up mongodb      # only some services (kafka mongodb postgresql)
#   scripts/devstack.sh status          # one line per service (per Kafka node); exit 0 if all up
#   scripts/devstack.sh env             # print the export line again
#   scripts/devstack.sh down            # stop what `up` started, wipe the data
#   scripts/devstack.sh packages        # Debian packages needed, one per line
#   scripts/devstack.sh kill-broker N   # kill -9 broker N (tests that lose a broker; never the controller)
#   scripts/devstack.sh start-broker N  # start it again, same config and data
#   scripts/devstack.sh wait-isr [SECS] # wait until every partition is fully in sync
#
# Debian packages the dev stack needs (also printed by `devstack.sh packages`):
#   openjdk-17-jre-headless openjdk-17-jdk-headless maven kcat python3
#   postgresql iproute2 util-linux openssl
# Not from Debian: a Go toolchain >= 1.24 (Debian 12 has 1.19) to build the
# FerretDB launcher, needed only for ECOM_MONGO_SERVER=ferretdb; it is looked
# up on PATH and in /usr/local/go/bin.
#
# Services:
#   kafka     Apache Kafka 3.9.x, KRaft, one node (broker+controller); jars from
#             Maven (scripts/kafka/pom.xml) cached in $ECOM_CACHE_DIR, or
#             $KAFKA_HOME/libs when KAFKA_HOME is set.
#             With --brokers N (or ECOM_KAFKA_BROKERS_COUNT=N), N brokers
#             (process.roles=broker) and one dedicated KRaft controller
#             (process.roles=controller, node 0, kafka/controller), as
#             production clusters run them: losing a broker then never costs
#             a controller election, nor the new controller's wait of one
#             broker session before it fences the lost broker
#             (doc/broker-loss.md).  One controller, not three: a fourth JVM
#             on a 2-core machine, not a sixth; a single point of failure,
#             which kill-broker never kills.  From 3 brokers on: replication
#             factor 3 (internal topics too), min.insync.replicas=2, no
#             unclean leader election; heap 384 MiB per broker, 256 MiB for
#             the controller (one broker, its own controller: 512 MiB).
#   mongodb   the MongoDB-protocol server ECOM_MONGO_SERVER names:
#               mongod    a real mongod ($ECOM_MONGOD, else mongod on PATH);
#                         chosen first when there is one
#               memory    mongo-java-server 1.47.0, in-memory backend: the
#                         default without mongod
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
# Secure stack (up --secure, or ECOM_DEVSTACK_SECURE=1): a throwaway CA and
# a certificate for DNS:localhost (openssl, in $ECOM_DEVSTACK_DIR/tls),
# random passwords (secrets.env, 0600), and
#   kafka     a SASL_SSL listener, SCRAM-SHA-512 or PLAIN, user ecom, the
#             only one clients can use (the brokers talk SASL_SSL too; the KRaft
#             controller PLAINTEXT on loopback); broker 1 has two more
#             SASL_SSL listeners that refuse every client, for the tests:
#             one serves a certificate that expired yesterday (same CA and
#             name), one asks for a client certificate (ports.env:
#             KAFKA_EXPIRED_PORT, KAFKA_CLIENTCERT_PORT).  No password is
#             ever on a command line (ps): files, stdin, a java @argfile;
#   postgres  ssl=on, hostssl only (no plaintext over TCP), scram-sha-256;
#   mongodb   TLS only (no plaintext listener), no client certificate
#             asked for; authentication where the server has it:
#               memory, h2  mongo-java-server: none, it has no
#                           authentication (a URI with a user is refused)
#               ferretdb    SCRAM-SHA-256 or SCRAM-SHA-1, user ecom in
#                           database admin (the URI's authSource), its
#                           password in secrets.env
#                           (the launcher reads it from a 0600 file):
#                           FerretDB's "new authentication", which the
#                           launcher turns on (scripts/ferretdb/main.go)
#               mongod      refused: its launch passes no TLS settings yet.
# Clients connect by the name localhost: the certificate carries no IP
# address, so 127.0.0.1 is a host name mismatch.  `env` prints
# ECOM_CONFIG (a 0600 file with the Kafka settings and password) and the
# store URIs with their password and CA: for the user's own shell.  A
# stack keeps its mode: plain and secure need a `down` in between.
#
# `up`, `env` and `status` name the MongoDB-protocol server as it names
# itself (buildInfo, through scripts/mongo-ping.py --server), e.g.
# "mongo-java-server 1.47.0 (memory)": `status` on the mongodb line, `up`
# and `env` in a comment line after the export line (so eval still works).
#
# Environment:
#   ECOM_DEVSTACK_SECURE  1: up starts a secure stack (as --secure); 0: plain
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
#                      --brokers wins; without either, `up` of services
#                      other than kafka keeps the stack's count)
#   KAFKA_HOME         use $KAFKA_HOME/libs instead of Maven
#
# Exit status: 0 ok, 1 runtime failure, 2 usage.

# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# The parts live in devstack/ beside this script's real location (also
# when installed in $(pkgdatadir)/scripts, or called through a symlink).
SCRIPT_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
readonly SCRIPT_DIR
for part in common secure kafka mongodb postgresql cluster commands; do
	[[ -r $SCRIPT_DIR/devstack/$part.sh ]] || {
		printf 'devstack: %s is missing: reinstall ecom\n' "$SCRIPT_DIR/devstack/$part.sh" >&2
		exit 1
	}
done
# shellcheck source=devstack/common.sh
. "$SCRIPT_DIR/devstack/common.sh"
# shellcheck source=devstack/secure.sh
. "$SCRIPT_DIR/devstack/secure.sh"
# shellcheck source=devstack/kafka.sh
. "$SCRIPT_DIR/devstack/kafka.sh"
# shellcheck source=devstack/mongodb.sh
. "$SCRIPT_DIR/devstack/mongodb.sh"
# shellcheck source=devstack/postgresql.sh
. "$SCRIPT_DIR/devstack/postgresql.sh"
# shellcheck source=devstack/cluster.sh
. "$SCRIPT_DIR/devstack/cluster.sh"
# shellcheck source=devstack/commands.sh
. "$SCRIPT_DIR/devstack/commands.sh"

usage() {
	cat <<'EOF'
usage: devstack.sh up [--brokers N] [--secure] [kafka|mongodb|postgresql ...]|down|status|env|packages|--help
       devstack.sh kill-broker N|start-broker N|wait-isr [SECONDS]

  up        start Kafka, a MongoDB-protocol server and PostgreSQL on 127.0.0.1
            (free ports; only the services named, if any), wait until each
            answers, and print the export line
            export ECOM_KAFKA_BROKERS=... ECOM_MONGODB_URI=... ECOM_POSTGRES_URI=...
            and a comment naming the MongoDB-protocol server, so that
            `eval "$(scripts/devstack.sh up)"` works; a no-op (same lines)
            when already up
  --brokers N
            Kafka on N brokers (1 to 9, default 1); ECOM_KAFKA_BROKERS lists
            them all.  One broker is its own KRaft controller; from 2 on a
            node of their own is the controller (process.roles=controller,
            no client port), so that losing a broker never costs a
            controller election.  From 3 on: replication factor 3,
            min.insync.replicas=2, no unclean leader election.  A stack with
            another count must be taken down first; without --brokers, up of
            services other than kafka keeps the count of the stack's Kafka.
  --secure  TLS everywhere, passwords where the server has them: Kafka
            SASL_SSL only (SCRAM-SHA-512 or PLAIN), PostgreSQL hostssl with
            scram-sha-256, the MongoDB-protocol server TLS only:
            mongo-java-server (memory, h2) with no authentication (it has
            none), FerretDB (ferretdb) with SCRAM, user ecom (mongod is
            refused);
            a throwaway CA and a certificate for localhost in the state
            dir; two more Kafka listeners that refuse everyone, for tests
            (an expired certificate; a client certificate asked for).  env
            then prints ECOM_CONFIG (Kafka's settings, 0600) and URIs with
            the password and CA, secrets included
  down      stop exactly what `up` started (pid files) and remove its data
  status    one line per service, per broker and for a cluster's controller
            (name, pid, port, up/down; the MongoDB-protocol server's name,
            version and backend) and a security line (plain, or secure and
            what each service gives); exit 0 if all up
  env       print the export lines of a running stack (exit 1 if not up)
  packages  print the Debian packages the dev stack needs, one per line
  kill-broker N
            kill -9 broker N (1 = the first) by its pid file.  kill-broker
            and start-broker act on brokers only: a cluster's controller is
            no broker and cannot be killed or started through them (up
            starts it, down stops it)
  start-broker N
            start broker N again with its config and data; wait until it
            answers and the cluster has all its brokers
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
ECOM_KAFKA_VERSION (default 3.9.1), ECOM_KAFKA_BROKERS_COUNT (as --brokers),
ECOM_DEVSTACK_SECURE (1 as --secure)
EOF
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
		parse_up_args "$@"
		cmd_up "${UP_OPERANDS[@]}"
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
