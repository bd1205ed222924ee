/* engine.h - the replay engine: runs a fixture against a server (started by us or
 * reached at a target address), sweeps write plans, grades the data path, the close
 * path and the server separately, names one diagnosis per non-pass, applies the
 * model's profile, and reports (text, and JSON on request).
 */
#ifndef EC_ENGINE_H
#define EC_ENGINE_H

#include <stdint.h>

/* Verdicts, best first within each exit class. */
enum ec_verdict {
    EC_V_PASS,
    EC_V_PASS_NONSTRICT,
    EC_V_XFAIL,
    EC_V_MAY, /* a may-entry held: a pass, or exactly the diagnosis the profile names */
    EC_V_UNSUPPORTED,
    EC_V_XPASS,
    EC_V_FAIL,
    EC_V_TIMEOUT,
    EC_V_ERROR,
    EC_V_NOT_CHECKED, /* a part that could not be checked (e.g. the log with --target) */
    EC_V_NOT_RUN      /* a part never reached */
};

/* "PASS", "PASS-NONSTRICT", ... */
const char *ec_verdict_name(enum ec_verdict v);

/* Exit status for a verdict: 0 PASS/PASS-NONSTRICT/XFAIL/MAY, 1 FAIL/XPASS/TIMEOUT,
 * 2 ERROR, 77 UNSUPPORTED. */
int ec_verdict_exit(enum ec_verdict v);

struct ec_replay_opts {
    const char *fixture; /* fixtures/<case>.json */
    const char *server;  /* command line of the server (split on blanks, "quotes") */
    const char *target;  /* or HOST:PORT of a running server */
    const char *plan;    /* one plan only: fixture, as-is, bytewise, random, split@K,
                          * coalesce; NULL = the whole sweep */
    uint64_t seed;       /* seed of the random plan */
    int seed_set;
    const char *json_out; /* write the result as JSON here */
    int verbose;
    const char *model;   /* model id, for the report and the profile */
    const char *family;  /* posix | win32 | faulty (observation defaults) */
    const char *profile; /* profile file; NULL = <profile_dir>/<model>.json if any */
    const char *profile_dir;
};

/* Runs one replay and prints its report on stdout. Returns the exit status of the
 * final verdict (see ec_verdict_exit); 2 for an unusable fixture or profile, with the
 * message (file: $.path: reason) on stderr. */
int ec_replay(const struct ec_replay_opts *o);

/* True when the server of o runs under Wine: the win32 family, or a Winsock faulty
 * server (family faulty, model id "faulty-win32-..."). Such a server gets the Wine
 * deadline factor, and its descriptor count and low RLIMIT_NOFILE are not usable. */
int ec_replay_under_wine(const struct ec_replay_opts *o);

#endif
