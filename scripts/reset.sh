#!/usr/bin/env bash
# reset.sh: delete and recreate the flow's topics and empty the store
# (ecom-reconcile --reset), like the original project's reset tool.
# Options are passed on, e.g. --store postgresql or -c FILE.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -f "$SCRIPT_DIR/../configure.ac" ]]; then
	"$SCRIPT_DIR/bootstrap.sh"
	PATH="$(cd "$SCRIPT_DIR/.." && pwd):$PATH"
fi
exec ecom-reconcile --reset "$@"
