#!/usr/bin/env bash
# One entry point for set-up, the demo and the tests, on a fresh Debian machine as root.
#   ./dev.sh demo      prune, import, compile and report a C3D-family model
#   ./dev.sh test      every check: ruff and mypy, lit/FileCheck IR tests, then pytest
#   ./dev.sh setup     only install (idempotent; quick when nothing changed)
#   ./dev.sh run CMD   run CMD inside the virtual environment
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
# Debian packages the tests need, by what needs them.
APT_PACKAGES=(
    libomp5-19                                      # host: the JIT-compiled code runs scf.parallel on LLVM's OpenMP runtime
    gcc-aarch64-linux-gnu qemu-user llvm-19         # aarch64: link a C harness, run it under qemu, llvm-mca-19 estimates
    spirv-tools mesa-vulkan-drivers libvulkan1      # vulkan: spirv-val, lavapipe (a Vulkan device on the CPU), the loader
)

log() { printf '[dev.sh] %s\n' "$*" >&2; }

ensure_apt_packages() {
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if ((${#missing[@]})); then
        log "installing Debian packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# The AArch64 back end's OpenMP objects run under qemu against LLVM's libomp for arm64. Debian's
# libomp5-19:arm64 cannot be installed beside the amd64 one (both own /usr/lib/llvm-19/lib/libomp-19.so.5),
# so its library is unpacked into the environment (rt3d_mlir/backends/aarch64/toolchain.py looks there).
ensure_aarch64_openmp() {
    local folder="$VENV/aarch64-libomp" scratch
    [[ -f "$folder/libomp.so.5" ]] && return
    log "unpacking libomp5-19:arm64 into $folder"
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64
        apt-get update -qq
    fi
    scratch=$(mktemp -d)
    # apt's own error stays visible; the scratch folder goes either way
    if ! (cd "$scratch" && apt-get download -qq libomp5-19:arm64 && dpkg-deb -x libomp5-19_*_arm64.deb root); then
        rm -rf "$scratch"
        log "error: could not download or unpack libomp5-19:arm64 (see apt's message above)"
        return 1
    fi
    mkdir -p "$folder"
    cp "$scratch/root/usr/lib/llvm-19/lib/libomp.so.5" "$folder/"
    rm -rf "$scratch"
}

python_ok() { "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }

ensure_python() {
    if ! command -v python3 >/dev/null || ! python_ok python3; then
        ensure_apt_packages python3 python3-venv
    fi
}

ensure_venv() {
    ensure_python
    ((${#APT_PACKAGES[@]})) && ensure_apt_packages "${APT_PACKAGES[@]}"
    ensure_aarch64_openmp
    local stamp="$VENV/.rt3d-installed" want
    want=$(cat pyproject.toml dev.sh | sha256sum | cut -d' ' -f1)
    if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return
    fi
    log "creating/updating the virtual environment in $VENV"
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # torch is pinned (2.13.0, CPU build): an unpinned torch would pull a multi-GB CUDA build.
    "$VENV/bin/python" -m pip install -q -e ".[test,onnx,bench]"
    echo "$want" >"$stamp"
}

run_tests() {
    local status=0
    log "ruff (lint)"
    "$VENV/bin/ruff" check || status=1
    log "mypy (types)"
    "$VENV/bin/python" test/typecheck.py || status=1
    log "lit/FileCheck tests"
    "$VENV/bin/lit" -sv test || status=1
    log "pytest"
    # pytest exits 5 when it collects nothing: that is a failure here too.
    "$VENV/bin/python" -m pytest -q "$@" || status=1
    return $status
}

command=${1:-}
[[ $# -gt 0 ]] && shift
case "$command" in
    setup) ensure_venv ;;
    demo) ensure_venv && exec "$VENV/bin/rt3d" demo "$@" ;;
    test) ensure_venv && run_tests "$@" ;;
    run) ensure_venv && PATH="$PWD/$VENV/bin:$PATH" exec "$@" ;;
    *)
        echo "usage: ./dev.sh {demo|test|setup|run CMD...}" >&2
        exit 2
        ;;
esac
