#!/usr/bin/env bash
# Install modelship from this checkout into a private virtual environment.
#
#   install-modelship.sh [EXTRAS]     EXTRAS: comma-separated, e.g. "mlflow,image"
#
# The environment lives under $RUNNER_TEMP (or $MODELSHIP_VENV), so it never
# fights the runner's own Python, and every stage action in the job reuses it:
# an extra already installed is not installed again. An environment restored
# from a cache (actions/cache, a GitLab cache) is reused as it is when it was
# built from this same source; from another source, only modelship itself is
# reinstalled. uv does the installing; when it is not on PATH it is
# bootstrapped once into the same temp folder.
set -euo pipefail

extras="${1:-}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/modelship"
venv="${MODELSHIP_VENV:-$base/venv}"
python="${MODELSHIP_PYTHON:-python3}"
stamp="$venv/.modelship-extras"
source_stamp="$venv/.modelship-source"

# What this checkout would install: its metadata and code, hashed (a few ms).
source_fingerprint() {
  (cd "$root" && find pyproject.toml src -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}
fingerprint="$(source_fingerprint)"

have_extras() {
  [ -x "$venv/bin/modelship" ] || return 1
  [ "$(cat "$source_stamp" 2>/dev/null)" = "$fingerprint" ] || return 1
  [ -z "$extras" ] && return 0
  local wanted
  IFS=',' read -ra wanted <<<"$extras"
  for extra in "${wanted[@]}"; do
    grep -qx "$extra" "$stamp" 2>/dev/null || return 1
  done
}

# Jobs that share one environment (several jobs on one self-hosted runner)
# take turns installing into it.
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$venv.lock"
  flock 9
fi

if have_extras; then
  echo "modelship: reusing $venv" >&2
  exit 0
fi

if command -v uv >/dev/null 2>&1; then
  uv_bin="$(command -v uv)"
else
  if [ ! -x "$base/uv/bin/uv" ]; then
    echo "modelship: bootstrapping uv into $base/uv" >&2
    # A venv of its own: the runner's python3 may be externally managed
    # (PEP 668) or come without pip, and is never installed into.
    rm -rf "$base/uv"
    "$python" -m venv "$base/uv" >&2
    "$base/uv/bin/python" -m pip install --quiet --disable-pip-version-check uv >&2
  fi
  uv_bin="$base/uv/bin/uv"
fi

export UV_PYTHON_DOWNLOADS=never
if [ ! -x "$venv/bin/python" ]; then
  "$uv_bin" venv --quiet --python "$python" "$venv" >&2
fi

# Everything installed so far plus what this stage needs, in one resolve.
all="$extras"
if [ -f "$stamp" ]; then
  all="$(printf '%s\n' "$(cat "$stamp")" "${extras//,/$'\n'}" | { grep -v '^$' || true; } | sort -u | paste -sd, -)"
fi
spec="$root"
[ -n "$all" ] && spec="${root}[$all]"
# uv keys its build of a local folder on pyproject.toml, not on the code, so
# an environment built from other code refreshes that build explicitly.
refresh=()
if [ -x "$venv/bin/modelship" ] && [ "$(cat "$source_stamp" 2>/dev/null)" != "$fingerprint" ]; then
  refresh=(--refresh-package modelship-ci --reinstall-package modelship-ci)
fi
echo "modelship: installing ${spec#"$root"} into $venv" >&2
"$uv_bin" pip install --quiet "${refresh[@]}" --python "$venv/bin/python" "$spec" >&2
printf '%s\n' "${all//,/$'\n'}" | grep -v '^$' > "$stamp" || true
printf '%s\n' "$fingerprint" > "$source_stamp"
