#!/usr/bin/env bash
# plain-flow.sh: run bench/plain-flow.py, the plain single-process script
# of the order flow (issue 11's reference), in its own virtualenv with the
# dev stack's ECOM_* variables.
#
#   bench/plain-flow.sh [plain-flow.py options]     e.g. -n 1000 --window 64
#
# The virtualenv is $ECOM_CACHE_DIR/bench-venv (default
# ~/.cache/ecom/bench-venv), made with pip on first use: confluent-kafka
# (its wheel bundles its own librdkafka) and psycopg 3 with its binary
# package (its own libpq).  Nothing is installed system-wide.  Without
# ECOM_KAFKA_BROKERS and ECOM_POSTGRES_URI in the environment, the
# running dev stack's are used (scripts/devstack.sh env).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
CACHE_DIR=${ECOM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ecom}
readonly VENV=$CACHE_DIR/bench-venv
# the versions measured in doc/performance-notes.md
readonly PACKAGES=(confluent-kafka==2.16.1 'psycopg[binary]==3.3.9')

if ! "$VENV/bin/python" -c 'import confluent_kafka, psycopg' 2>/dev/null; then
	echo "plain-flow: making the virtualenv $VENV (${PACKAGES[*]})" >&2
	python3 -m venv "$VENV" || {
		echo "plain-flow: cannot make the virtualenv '$VENV' (on Debian: apt-get install python3-venv)" >&2
		exit 1
	}
	"$VENV/bin/pip" install --quiet "${PACKAGES[@]}" || {
		echo "plain-flow: cannot install ${PACKAGES[*]} into '$VENV'" >&2
		exit 1
	}
fi
if [[ -z ${ECOM_KAFKA_BROKERS:-} || -z ${ECOM_POSTGRES_URI:-} ]]; then
	env_line=$("$ROOT/scripts/devstack.sh" env) || {
		echo "plain-flow: no dev stack: run 'eval \"\$(scripts/devstack.sh up)\"' first" >&2
		exit 1
	}
	eval "$env_line"
fi
exec "$VENV/bin/python" "$ROOT/bench/plain-flow.py" "$@"
