#!/usr/bin/env bash
# Sets a machine up to build and test Nnl (CI runs it from .ci/run; the README's main job starts with it):
# NVRTC from Debian non-free (libnvrtc11.2), node for the PowerShell parse check and its npm packages.
# Idempotent; uses sudo for apt only when something is missing and we are not root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")/.."

# Root for apt only; on CI (no stdin) sudo must not ask for a password.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"
    elif [[ ${CI:-} == true ]]; then sudo -n "$@"
    else sudo "$@"; fi
}

# Debian ships NVRTC (libnvrtc11.2) in non-free. Add contrib and non-free to the Components of the
# Debian entries, once: running this again changes nothing.
enable_non_free() {
    local sources=/etc/apt/sources.list.d/debian.sources
    if [[ -f $sources ]]; then
        if ! grep '^Components:' "$sources" | grep -vqE '(^|[[:space:]])non-free([[:space:]]|$)' &&
            ! grep '^Components:' "$sources" | grep -vqE '(^|[[:space:]])contrib([[:space:]]|$)'; then
            echo "Debian contrib and non-free are enabled"
            return
        fi
        as_root sed -i -E \
            -e '/^Components:/{/(^|[[:space:]])contrib([[:space:]]|$)/!s/$/ contrib/}' \
            -e '/^Components:/{/(^|[[:space:]])non-free([[:space:]]|$)/!s/$/ non-free/}' \
            "$sources"
        grep '^Components:' "$sources" | sort -u | sed 's/^/  debian.sources: /'
    elif [[ -f /etc/apt/sources.list ]]; then
        as_root sed -i -E \
            -e '/^deb .*debian/{/[[:space:]]contrib([[:space:]]|$)/!s/$/ contrib/}' \
            -e '/^deb .*debian/{/[[:space:]]non-free([[:space:]]|$)/!s/$/ non-free/}' \
            /etc/apt/sources.list
    fi
}

have_nvrtc() { ldconfig -p | grep -qE 'libnvrtc\.so(\.[0-9.]+)?( |$)'; }

echo "== setup"
enable_non_free
missing=()
have_nvrtc || missing+=(libnvrtc11.2)
command -v node >/dev/null || missing+=(nodejs)
for tool in g++ make python3; do command -v $tool >/dev/null || missing+=($tool); done
if ((${#missing[@]} > 0)); then
    as_root apt-get update -q
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "NVRTC and node are installed"
fi
have_nvrtc || { echo "NVRTC is still missing after apt-get install libnvrtc11.2" >&2; exit 1; }
command -v dotnet >/dev/null || { echo "the .NET SDK (8 or later, 10 for the tools and tests) is not installed" >&2; exit 1; }
dotnet --version

# The parse check's dependencies. tree-sitter's prebuilt linux-x64 binary needs a newer libstdc++
# (GLIBCXX_3.4.31) than Debian 12 has, so its install script compiles it with node-gyp.
(cd tools/ps-parse && npm install --no-audit --no-fund --loglevel=error </dev/null)

