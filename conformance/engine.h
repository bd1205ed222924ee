/* engine.h - the replay engine: runs a fixture against a server (started by us or
 * reached at a target address), sweeps write plans, grades the data path, the close
 * path and the server separately, names one diagnosis per non-pass, applies the
 * model's profile, and reports (text, and JSON on request).
 */
#ifndef EC_ENGINE_H
#define EC_ENGINE_H

#include <stdint.h>

#include "verdict.h"

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
