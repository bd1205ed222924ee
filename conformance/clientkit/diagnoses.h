/* diagnoses.h - the one diagnosis vocabulary of echoconf (DESIGN.md section 5, plus
 * the engine's own names for server exits, log expectations and connect failures):
 * the engine, the fixture and profile loaders and the clients all name a fault with
 * these, so a client and a fixture say the same thing the same way.
 */
#ifndef EC_DIAGNOSES_H
#define EC_DIAGNOSES_H

#include <stddef.h>

/* Names. Those marked "suffix" are printed with ":<detail>" (capacity-limit:63). */
#define EC_DIAG_ECHO_MISMATCH         "echo-mismatch"
#define EC_DIAG_DUPLICATED            "duplicated-bytes"
#define EC_DIAG_REORDERED             "reordered-bytes"
#define EC_DIAG_TRUNCATED             "truncated-echo"
#define EC_DIAG_LOST_AFTER_HALF_CLOSE "lost-after-half-close"
#define EC_DIAG_NO_CLOSE_AFTER_EOF    "no-close-after-eof"
#define EC_DIAG_STALL                 "stall"
#define EC_DIAG_SERIALIZED            "serialized-clients"
#define EC_DIAG_HOL                   "head-of-line-blocking"
#define EC_DIAG_CAPACITY              "capacity-limit" /* suffix: clients served */
#define EC_DIAG_DIED_AFTER_RESET      "died-after-reset"
#define EC_DIAG_FD_LEAK               "fd-leak"        /* suffix: descriptors gained */
#define EC_DIAG_BUSY_POLL             "busy-poll"
#define EC_DIAG_CRASH                 "crash"          /* suffix: signal name */
#define EC_DIAG_PREMATURE_CLOSE       "premature-close"
#define EC_DIAG_IDLE_TIMEOUT          "idle-timeout"   /* suffix: ms of silence, 1-2-5 */
#define EC_DIAG_UNEXPECTED_RESET      "unexpected-reset"
#define EC_DIAG_FRAME_ERROR           "frame-reassembly-error"
#define EC_DIAG_CROSS_TALK            "cross-talk"
#define EC_DIAG_UNFAIR                "unfair-starvation"
#define EC_DIAG_SERVER_EXITED         "server-exited"  /* suffix: exit status */
#define EC_DIAG_LOG_MISMATCH          "log-mismatch"
#define EC_DIAG_UNEXPECTED_DATA       "unexpected-data"
#define EC_DIAG_CONNECT_FAILED        "connect-failed"
#define EC_DIAG_NAGLE                 "nagle-delayed-ack-stall"
#define EC_DIAG_UNBOUNDED_FRAME       "unbounded-frame"
#define EC_DIAG_UNBOUNDED_BUFFERING   "unbounded-buffering"

/* The harness's own names, outside the vocabulary: the case could not be run as
 * written (a payload the framing cannot carry, a broken step) or the harness itself
 * failed (no memory, a thread that would not start). A replay gives them with verdict
 * ERROR; a profile never declares them, and no edge profile counts them. */
#define EC_DIAG_FIXTURE_ERROR "fixture-error"
#define EC_DIAG_HARNESS_ERROR "harness-error"

/* One entry of the vocabulary. */
struct ec_diagnosis_info {
    const char *name;
    int suffix;          /* 1: takes ":<detail>" */
    const char *meaning; /* one line */
};

/* The vocabulary, ec_diagnosis_count entries (diagnoses.c). */
extern const struct ec_diagnosis_info ec_diagnosis_table[];
extern const size_t ec_diagnosis_count;

/* True if name is a diagnosis of the vocabulary; a name that takes a suffix matches
 * bare or with ":<anything>" ("capacity-limit", "capacity-limit:63"). */
int ec_diagnosis_known(const char *name);

/* True for EC_DIAG_FIXTURE_ERROR and EC_DIAG_HARNESS_ERROR: the fault is the case's or
 * the harness's, not the server's. */
int ec_diagnosis_is_harness(const char *name);

#endif
