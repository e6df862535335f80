#!/usr/bin/env bash
# Entry point of every stage action: make sure modelship (with the stage's
# extras) is installed in the job's private environment, then run the stage.
# Inputs arrive as INPUT_* environment variables set by the action's `env:`.
set -euo pipefail

stage="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
base="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/modelship"
venv="${MODELSHIP_VENV:-$base/venv}"

echo "::group::Install modelship"
"$here/install-modelship.sh" "${MODELSHIP_EXTRAS:-}"
echo "::endgroup::"
exec "$venv/bin/modelship" "$stage"
