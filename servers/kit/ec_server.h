/* ec_server.h - the server contract shared by every echo model, POSIX and Win32.
 *
 * Each executable echo-<model> is server_main.c + one model file + the server kit
 * (servers/kit) + the wire library (lib).
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

#include <stdio.h>

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
    int sndbuf;                /* --sndbuf: SO_SNDBUF of every accepted socket; 0 = the
                                  system's (autotuned on Linux) */
};

/* Largest --bufsize a server accepts (16 MiB). */
#define EC_MAX_BUFSIZE (16u * 1024u * 1024u)

/* Results of ec_server_parse_args. */
#define EC_ARGS_ERROR   (-1) /* a bad command line; the reason was printed */
#define EC_ARGS_RUN     0    /* options parsed: run the server */
#define EC_ARGS_HELP    1    /* --help was given */
#define EC_ARGS_VERSION 2    /* --version was given */

/* Fills o with the defaults: 127.0.0.1, EC_DEFAULT_PORT, raw framing, the textbook's
 * bufsize, and default_workers threads (-1: two per CPU of ncpu). */
void ec_server_opts_init(struct ec_server_opts *o, int default_workers, int ncpu);

/* Parses argv[1..argc) (--name VALUE or --name=VALUE) into o, which holds the
 * defaults (ec_server_opts_init). default_workers is the model's (0: --workers is
 * refused), ncpu the CPU count for --workers -1. Every refusal writes one line
 * "<prog>: ..." naming the option and the value to errout. Returns EC_ARGS_RUN,
 * EC_ARGS_HELP or EC_ARGS_VERSION (at the first such option), or EC_ARGS_ERROR.
 * Allocates nothing; argv is only read. */
int ec_server_parse_args(int argc, char *const argv[], struct ec_server_opts *o,
                         int default_workers, int ncpu, const char *prog, FILE *errout);

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
