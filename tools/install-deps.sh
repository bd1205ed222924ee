#!/usr/bin/env bash
# Installs every build and test dependency of echoconf on Debian/Ubuntu with apt-get.
# Non-interactive and idempotent: packages already present are left alone, and the
# package lists are refreshed only when something is missing.
set -euo pipefail

packages=(
    build-essential cmake pkg-config ninja-build   # compiler, build system
    libpcre2-dev libcjson-dev                      # fixture expectations (PCRE2), fixtures (cJSON)
    liburing-dev                                   # posix-uring (optional, but installed)
    gcc-mingw-w64-x86-64                           # win32 servers, cross-built
    wine64                                         # win32 servers, run under Wine
    valgrind                                       # memcheck runs (label "valgrind")
    clang libclang-rt-14-dev                       # libFuzzer targets (fuzz preset, -fsanitize=fuzzer)
    procps psmisc                                  # pgrep/pkill/killall used by test cleanup
    python3 gnuplot-nox                            # report and benchmark plots; the asyncio peer
    chromium                                       # HTML report rendered headless (label "browser")
    socat inetutils-inetd                          # third-party echo servers (label "peers")
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages already installed"
    exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
