#!/bin/sh
# inetd-echo.sh PORT - GNU inetutils inetd serving its builtin "echo" (RFC 862) on
# 127.0.0.1:PORT, unprivileged. inetd finds a builtin service by its name ("echo"),
# and /etc/services puts that name on port 7, which only root may bind; a numeric
# port in inetd.conf is dropped silently for an internal service (measured with
# inetutils-inetd 2.4). So the service name is moved instead: in a user and mount
# namespace of our own (no privilege needed), a services file that says
# "echo PORT/tcp" is bind-mounted over /etc/services for inetd alone. As root, the
# server still runs as nobody. exec all the way: the pid echoconf started is inetd's.
set -eu
port=${1:?usage: inetd-echo.sh PORT}
inetd=${INETD:-/usr/sbin/inetutils-inetd}
[ -x "$inetd" ] || { echo "inetd-echo.sh: $inetd not installed (tools/install-deps.sh)" >&2; exit 127; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/inetd-echo.XXXXXX")
chmod 755 "$dir"
printf 'echo %s/tcp\n' "$port" > "$dir/services"
printf '127.0.0.1:echo stream tcp nowait root internal\n' > "$dir/inetd.conf"
chmod 644 "$dir/services" "$dir/inetd.conf"
drop=
if [ "$(id -u)" = 0 ]; then drop="setpriv --reuid=65534 --regid=65534 --clear-groups"; fi
exec $drop unshare --user --map-root-user --mount sh -c \
    "mount --bind '$dir/services' /etc/services && exec '$inetd' -d --pidfile='$dir/pid' '$dir/inetd.conf'"
