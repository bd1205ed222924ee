/* server_launch.h - starts the server under test from the command line a user gave:
 * a command with "{port}" gets a free port substituted and is ready at its first
 * accepted connection (for servers that print nothing); any other command follows
 * the server contract (--port 0 --framing F and the case's arguments are appended,
 * and the readiness line "listening A:P" gives the port).
 */
#ifndef EC_SERVER_LAUNCH_H
#define EC_SERVER_LAUNCH_H

#include <stddef.h>

#include "server_proc.h"

/* The address a client uses to reach a server that listens on host: host itself, or
 * loopback for the wildcard (0.0.0.0 -> 127.0.0.1, :: -> ::1), into out (len bytes). */
void ec_launch_reach(const char *host, char *out, size_t len);

/* True when cmd contains the placeholder "{port}". */
int ec_command_has_port(const char *cmd);

/* Picks a TCP port nobody listens on now at 127.0.0.1 (bind to port 0, read it back,
 * close). Returns the port, or -1 with a reason in err. Another process may take it
 * before the server binds it; the server's start then fails visibly. */
int ec_pick_free_port(char *err, size_t errlen);

/* Starts the server of the command line cmd (split by ec_split_command):
 * - with "{port}": every "{port}" becomes a free port; framing and extra are NOT
 *   passed (the server is not ours and knows no such options); readiness is the first
 *   accepted connection to 127.0.0.1:port within ready_ms;
 * - without: cmd --port 0 --framing <framing> extra... and the readiness line.
 * nofile > 0 sets the server's RLIMIT_NOFILE. The command actually run is written to
 * shown. Returns 0 (s->host and s->port say where it listens), or -1 with what was
 * tried and seen in err (the server is not running then). */
int ec_launch_server(struct ec_server_proc *s, const char *cmd, const char *framing,
                     char *const *extra, size_t nextra, int nofile, int ready_ms, char *shown,
                     size_t shownlen, char *err, size_t errlen);

#endif
