#!/usr/bin/env bash
# Installs what l7trace needs and is missing: `build` for make build/run,
# `test` for the end-to-end tests. Idempotent and quick when all is there.
set -euo pipefail
what=${1:-build}

build_pkgs=(clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool libprotobuf-c-dev protobuf-c-compiler
            libcurl4-openssl-dev libnghttp2-dev pkg-config)
test_pkgs=(curl nginx apache2 nghttp2-client nghttp2-server wrk openssl gnutls-bin python3-pip iproute2 procps golang-go nodejs
           qemu-system-x86 busybox-static cpio debian-archive-keyring)  # the last four: the kernel matrix (make test-kernels)
py_modules=("opentelemetry.proto:opentelemetry-proto" "google.protobuf:protobuf" "grpc:grpcio" "pytest:pytest")

pkgs=("${build_pkgs[@]}")
[[ $what == test ]] && pkgs+=("${test_pkgs[@]}")

# The Swift toolchain ships its own clang; Debian's is needed only when it is absent.
if command -v clang >/dev/null 2>&1 && clang -print-targets 2>/dev/null | grep -q bpf; then
  pkgs=("${pkgs[@]/clang}"); pkgs=("${pkgs[@]/llvm}")
fi

missing=()
for p in "${pkgs[@]}"; do
  [[ -z $p ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "l7trace: installing ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "l7trace: the Swift toolchain (6.0 or later) is not on PATH; install it from swift.org and retry" >&2
  exit 1
fi

if [[ $what == test ]]; then
  pip_missing=()
  for entry in "${py_modules[@]}"; do
    mod=${entry%%:*} pkg=${entry#*:}
    python3 -c "import $mod" 2>/dev/null || pip_missing+=("$pkg")
  done
  if ((${#pip_missing[@]})); then
    echo "l7trace: pip installing ${pip_missing[*]}" >&2
    python3 -m pip install -q "${pip_missing[@]}" 2>/dev/null || python3 -m pip install -q --break-system-packages "${pip_missing[@]}"
  fi
fi
