#!/bin/sh
# wine-fixture.sh: the CTest fixture "wine" of the win32 tests.
#   wine-fixture.sh setup   <wine64> <wineserver> <prefix> [<ec-wine-desktop.exe>]
#   wine-fixture.sh cleanup <wine64> <wineserver> <prefix> [<ec-wine-desktop.exe>]
# setup creates the Wine prefix once (inside the build tree), starts a persistent
# wineserver and, given ec-wine-desktop.exe, holds the Wine desktop open for the run;
# cleanup stops them all and checks that no Wine process of that prefix is left.
# Exit status: 0 done, 1 failed (the reason on stderr), 2 bad usage.
set -u

usage() {
    echo "usage: wine-fixture.sh setup|cleanup <wine64> <wineserver> <prefix>" \
        "[<ec-wine-desktop.exe>]" >&2
    exit 2
}
[ $# -eq 4 ] || [ $# -eq 5 ] || usage
mode=$1
wine=$2
wineserver=$3
prefix=$4
desktop=${5:-}
case $mode in setup | cleanup) ;; *) usage ;; esac
case $prefix in /*) ;; *)
    echo "wine-fixture: the prefix must be an absolute path, got '$prefix'" >&2
    exit 2
    ;;
esac

# Every wait is bounded and scaled by ECHOCONF_TIMEOUT_MULTIPLIER (default 1).
mult=${ECHOCONF_TIMEOUT_MULTIPLIER:-1}
if ! awk -v m="$mult" 'BEGIN { exit !(m + 0 > 0) }'; then
    echo "wine-fixture: ECHOCONF_TIMEOUT_MULTIPLIER must be a positive number, got '$mult'" >&2
    exit 2
fi
scaled() { awk -v m="$mult" -v s="$1" 'BEGIN { print s * m }'; }

# The Wine environment of every test (cmake/EchoconfWin32.cmake sets the same on each
# win32 test): no debug channels, and no Mono/Gecko download dialogs on prefix creation.
# It is given to each Wine command, not exported, so that this script and its helpers
# never look like processes of the prefix themselves.
unset WINEPREFIX
winenv() {
    WINEPREFIX="$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" "$@"
}

# The Wine processes of this prefix: a process whose program lies in the Wine
# installation (wine64, wine64-preloader, wineserver64: every Windows process of Wine
# runs as one of them) and whose Unix environment names the prefix (Wine keeps
# WINEPREFIX there, in the wineserver and in services.exe, explorer.exe, ... alike).
# The program test leaves out this script and its subshells, which may carry
# WINEPREFIX from the caller's environment. Zombies have neither and are skipped: they
# are dead, reaping them is init's job.
wine_dir=$(dirname "$(readlink -f "$wine")")
server_dir=$(dirname "$(readlink -f "$wineserver")")
prefix_pids() {
    # One grep over every environment (a process per /proc entry would take seconds
    # on a loaded machine), then the program test on the few matches.
    for f in $(grep -lzxF "WINEPREFIX=$prefix" /proc/[0-9]*/environ 2>/dev/null); do
        d=${f%/environ}
        exe=$(readlink "$d/exe" 2>/dev/null) || continue
        case $exe in "$wine_dir"/* | "$server_dir"/*) echo "${d#/proc/}" ;; esac
    done
}

log="$prefix.log"

# Starts a persistent wineserver and runs one Wine program under it, which creates or
# updates the prefix (wineboot) and starts the Windows services; they then live as long
# as the server. -p keeps the server alive when the last Wine process exits, until
# `wineserver -k` (Debian's wrapper passes -p0 first; the later -p wins). The server
# daemonizes, and everything's output goes to a log file: a background process holding
# CTest's stdout pipe makes CTest wait for it until the timeout.
start_server() {
    if ! winenv "$wineserver" -p </dev/null >>"$log" 2>&1; then
        echo "wine-fixture: '$wineserver -p' failed; output ($log):" >&2
        cat "$log" >&2
        return 1
    fi
    if ! winenv timeout "$(scaled 150)" "$wine" cmd /c exit </dev/null >>"$log" 2>&1; then
        echo "wine-fixture: '$wine cmd /c exit' failed or took more than $(scaled 150) s;" \
            "output ($log):" >&2
        cat "$log" >&2
        winenv "$wineserver" -k >/dev/null 2>&1
        return 1
    fi
    return 0
}

# Starts ec-wine-desktop.exe in the background and waits (bounded) for its "desktop
# ready" line, read through a FIFO. Wine ends `explorer.exe /desktop` a second after
# the last window user exits and starts a new one for the next, which would inherit
# that test's stderr pipe and hold it open (see wine-desktop.c); with the holder
# running, the one desktop process has the log file as its stderr instead.
start_desktop() {
    fifo="$prefix.desktop-fifo"
    rm -f "$fifo"
    mkfifo "$fifo" || return 1
    # A subshell that execs Wine, its descriptors replaced first: a shell function in
    # the background would keep a saved copy of this script's stdout (CTest's pipe).
    (
        exec </dev/null >"$fifo" 2>>"$log"
        WINEPREFIX="$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" \
            exec "$wine" "$desktop"
    ) &
    line=$(timeout "$(scaled 60)" sh -c 'read -r l <"$1" && echo "$l"' sh "$fifo")
    rm -f "$fifo"
    # The MinGW C runtime writes stdout in text mode: the line ends in \r\n.
    line=$(printf '%s' "$line" | tr -d '\r')
    if [ "$line" != "desktop ready" ]; then
        echo "wine-fixture: '$desktop' did not report the desktop within $(scaled 60) s;" \
            "output ($log):" >&2
        cat "$log" >&2
        winenv "$wineserver" -k >/dev/null 2>&1
        return 1
    fi
    return 0
}

# Stops every Wine process of the prefix: `wineserver -k` kills them all and the
# server, `wineserver -w` waits for the server's exit. Processes killed that way end
# soon after, but a process that is not our child gives no signal when it ends, so
# they are looked for again, bounded (10 s). A process whose server died without -k
# (killed from outside) never ends by itself: with no server running, what is left is
# killed at once. Returns 1 only if a process survives SIGKILL.
stop_all() {
    if winenv "$wineserver" -k >/dev/null 2>&1; then
        winenv timeout "$(scaled 15)" "$wineserver" -w >/dev/null 2>&1
        waited=0
        limit=$(awk -v t="$(scaled 10)" 'BEGIN { printf "%d", t * 10 }')
        while [ -n "$(prefix_pids)" ] && [ "$waited" -lt "$limit" ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
    fi
    left=$(prefix_pids)
    [ -z "$left" ] && return 0
    echo "wine-fixture: Wine processes of $prefix left without a wineserver; killing them:"
    for pid in $left; do
        printf '  %s %s\n' "$pid" "$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")"
        kill -9 "$pid" 2>/dev/null
    done
    sleep 0.5
    left=$(prefix_pids)
    if [ -n "$left" ]; then
        echo "wine-fixture: Wine processes of $prefix survive SIGKILL: $left" >&2
        return 1
    fi
    return 0
}

if [ "$mode" = setup ]; then
    if [ -n "$desktop" ] && [ ! -f "$desktop" ]; then
        echo "wine-fixture: $desktop is missing: build the project first" >&2
        exit 1
    fi
    # Whatever an interrupted earlier run left (a server that would not be persistent,
    # or processes whose server was killed) goes first.
    stop_all || exit 1
    : >"$log"
    # wineserver needs the directory to exist (it chdirs into the prefix).
    mkdir -p "$prefix" || exit 1
    # The registry files are written when the server exits; system.reg therefore marks
    # a prefix that was completely created.
    if [ ! -f "$prefix/system.reg" ]; then
        echo "wine-fixture: creating the Wine prefix $prefix (takes 5-20 s, once)"
        start_server || exit 1
        # A crashing server prints winedbg's backtrace on stderr instead of opening a
        # crash dialog.
        winenv timeout "$(scaled 60)" "$wine" reg add 'HKCU\Software\Wine\WineDbg' \
            /v ShowCrashDialog /t REG_DWORD /d 0 /f </dev/null >>"$log" 2>&1
        # Stop this first server so that it saves the registry, then start the one the
        # tests use.
        winenv "$wineserver" -k >/dev/null 2>&1
        winenv timeout "$(scaled 30)" "$wineserver" -w >/dev/null 2>&1
        if [ ! -f "$prefix/system.reg" ]; then
            echo "wine-fixture: $prefix has no system.reg after wineboot; output ($log):" >&2
            cat "$log" >&2
            exit 1
        fi
    fi
    start_server || exit 1
    if [ -n "$desktop" ]; then
        start_desktop || exit 1
    fi
    echo "wine-fixture: prefix $prefix ready, persistent wineserver running"
    exit 0
fi

# cleanup
stop_all || exit 1
echo "wine-fixture: wineserver stopped, no Wine process of $prefix left"
exit 0
