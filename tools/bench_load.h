/* bench_load.h - the load generator of `echoconf bench`: N connections to one echo
 * server, each keeping `depth` messages of `size` bytes in flight, driven by one epoll
 * thread per client CPU, every echoed byte compared with what was sent.
 */
#ifndef EC_BENCH_LOAD_H
#define EC_BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>

#define EC_BENCH_MAX_THREADS 64
#define EC_BENCH_MAX_CONNS   10000

struct ec_bench_load_cfg {
    char host[64]; /* the server's address (loopback or given) */
    unsigned port;
    int conns;       /* connections, 1..EC_BENCH_MAX_CONNS */
    size_t size;     /* bytes per message */
    int depth;       /* messages in flight per connection */
    int warmup_ms;   /* run before the measured window */
    int duration_ms; /* the measured window */
    int stall_ms;    /* a connection owed an echo this long without a byte is a stall */
    int connect_ms;  /* bound on connecting every connection */
    int cpus[EC_BENCH_MAX_THREADS]; /* client CPUs, one thread each (-1: not pinned) */
    int nthreads;
    uint64_t seed;
};

/* What one run measured (the window only). Latencies are in microseconds. */
struct ec_bench_load_result {
    int ok; /* 0: error holds what went wrong; the figures mean nothing */
    char error[512];
    double seconds; /* the measured window */
    uint64_t round_trips;
    double rt_per_s, mb_per_s;
    double p50_us, p99_us, p999_us, max_us;
    double client_cpu; /* the busiest client thread's CPU time / wall time, 0..1 */
    uint64_t window_start_ns, window_end_ns; /* CLOCK_MONOTONIC, for the server's CPU */
};

/* Runs one measurement: connects cfg->conns connections (spread over the threads),
 * runs cfg->warmup_ms, then measures cfg->duration_ms, calling on_window(arg, 0) at the
 * start of the window and on_window(arg, 1) at its end (from the calling thread, e.g.
 * to read the server's CPU time). Every byte echoed is checked against the byte sent
 * at that position of that connection's stream: a wrong byte, an early close, a reset
 * or a stall is an error (res->ok = 0, with the connection, message and offset),
 * never a figure. Returns 0 (then see res->ok), or -1 when the run could not start
 * (out of memory, threads). Allocates only before the run, nothing per message. */
int ec_bench_load_run(const struct ec_bench_load_cfg *cfg, struct ec_bench_load_result *res,
                      void (*on_window)(void *arg, int end), void *arg);

#endif
