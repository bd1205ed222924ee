/* ec_server.h - the server contract shared by every echo model, POSIX and Win32.
 *
 * Each executable echo-<model> is server_main.c + one model file + the wire library.
 * server_main.c parses the options, starts the socket layer, listens, prints the
 * readiness line, arranges for SIGINT/SIGTERM (console control on Windows) to stop
 * the server, and calls the model's ec_serve().
 */
#ifndef EC_SERVER_H
#define EC_SERVER_H

#include "ec_accept.h"
#include "ec_echo.h"
#include "ec_framing.h"
#include "ec_log.h"
#include "ec_net.h"
#include "ec_sock.h"
#include "ec_wire.h"

#define EC_DEFAULT_PORT    40100 /* the textbook's port */
#define EC_DEFAULT_BUFSIZE 1024  /* the textbook's BUFSIZE */

struct ec_server_opts {
    char bind[64];             /* --bind, default 127.0.0.1 */
    unsigned port;             /* --port, 0 = ephemeral */
    struct ec_framing framing; /* --framing raw|line|fixed:N|len16|len32 */
    size_t bufsize;            /* --bufsize */
    int max_clients;           /* --max-clients; 0 = only the model's own limit */
    int workers;               /* --workers (models with workers; else 0) */
    int quiet;                 /* --quiet */
    int nodelay;               /* --nodelay: TCP_NODELAY on every accepted socket */
};

/* What each model file defines besides ec_serve(), with designated initializers
 * (.id, .summary, .default_workers, .probe where used): a member left out is zero
 * (C11 6.7.9p21), and -Wextra's -Wmissing-field-initializers, which flags short
 * positional initializers, accepts designated ones. */
struct ec_model {
    const char *id;      /* "posix-epoll" */
    const char *summary; /* two or three lines for --help: the API, the limit it exposes */
    int default_workers; /* 0: the model has no --workers option; -1: two per CPU */
    /* NULL, or a check that the model can run on this system at all (a kernel
     * interface it needs, a permission). server_main calls it before listening; a
     * non-zero return, with a reason in why (len bytes), makes it print "echo-<id>:
     * cannot run here: <why>" and exit 77 (ctest's SKIP_RETURN_CODE) without ever
     * printing the readiness line. */
    int (*probe)(char *why, size_t len);
};

extern const struct ec_model ec_model;

/* The model: serves echo on the listening socket until ec_server_stopping(). Returns
 * 0 after a requested stop, or 1 on a fatal error (after a message on stderr). The
 * listener is owned by the caller; the model closes every socket it accepted. */
int ec_serve(ec_sock_t listener, const struct ec_server_opts *o);

/* True once SIGINT/SIGTERM (or console control) asked the server to stop. When that
 * happens the listener is also shut down, so a blocking accept, select, poll, epoll or
 * io_uring accept wakes up with an error or hang-up: a model that sees the listener
 * fail checks this and returns 0. */
int ec_server_stopping(void);

/* The number of CPUs (for "two workers per CPU", the textbook's IOCP rule). */
int ec_cpu_count(void);

#endif
