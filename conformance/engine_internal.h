/* engine_internal.h - state shared by engine.c (running), profile.c (expected
 * deviations) and report.c (text and JSON reports). Not part of any public contract.
 */
#ifndef EC_ENGINE_INTERNAL_H
#define EC_ENGINE_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "engine.h"
#include "fixture.h"
#include "server_proc.h"
#include "steps.h"

/* The first failure of one connection instance, with its evidence. */
struct failure {
    int set;
    int64_t t_us;
    const struct ec_step *st; /* NULL for harness failures */
    enum ec_path path;
    enum ec_verdict v; /* FAIL, TIMEOUT or ERROR */
    enum ec_outcome oc;
    char diagnosis[48];
    char expected[200], actual[200];
    char who[24];
    long long diff_off; /* first differing stream offset, -1 if none */
    long long ctx_off;  /* stream offset of exp[0] / act[0] */
    unsigned char exp[48], act[48];
    size_t exp_n, act_n;
    /* Evidence for causes.c: an echo compared with this connection's own sent bytes
     * (stream window [echo_base, echo_base + echo_want)), and a connect refused while
     * nothing listened on the port. */
    int echo_own;
    size_t echo_base, echo_want;
    int not_listening;
};

struct pass;

/* What the server's log said so far about one connection instance: the lines of its
 * client port from the line it connected at (engine.c, srv_scan). A later "accept" of
 * the same port starts over, so a port the kernel reused for a new connection never
 * inherits an old connection's counts. */
struct srv_track {
    size_t from, scan; /* first line that may be ours; next line to look at */
    unsigned port;     /* our local port, 0 before connect */
    struct sockaddr_storage me, peer; /* our address and the server's (await_ack) */
    long long recv;    /* bytes the server logged receiving ("recv" lines) */
    long long sent;    /* bytes it logged sending back ("send" lines) */
    int accepted, closed, refused;
};

/* One connection instance: a thread running its group's steps. */
struct inst {
    struct pass *ps;
    const struct ec_group *g;
    size_t gi;
    int idx; /* instance number within its group */
    struct ec_conn c;
    pthread_t th;
    size_t pos;
    int ran, skipped, completed;
    int ran_path[3];
    int nonstrict[3];
    int not_checked;
    int cpu_pct, fd_growth;
    long long filled;
    struct srv_track trk; /* the server's log about this connection */
    int efd;              /* eventfd for waits on the server's log; -1 until needed */
    sem_t go;     /* serial groups: posted when the previous instance hands off */
    int handed;   /* this instance let the next one go */
    int *member;  /* per barrier: its script has it */
    int *arrived; /* per barrier: arrived or left */
    struct failure f;
};

struct barrier {
    char name[32];
    int participants;
    int arrived;
    int done;
    int efd; /* eventfd, readable once every participant arrived or left */
};

struct obs {
    char name[32];
    int fds;
    long long cpu_ms;
    long long rss_kib; /* VmRSS, -1 when not observed */
    int threads;       /* the server's threads then, -1 when not observed */
};

struct run;

/* One run of the whole script under one write-plan override. */
struct pass {
    struct run *run;
    char plan_name[48];
    enum ec_plan_override ov;
    size_t split_at;
    uint64_t seed;
    int64_t start_ms, end_ms;
    /* When the pass's budget runs out. Server-synchronised delivery moves it on by the
     * time each paced piece waited for the server's recv line (pace, engine.c), up to
     * hard_deadline_ms; read by every client thread, hence atomic. */
    _Atomic int64_t deadline_ms;
    int64_t hard_deadline_ms;
    struct inst *insts;
    size_t ninst;
    struct ec_timeline tl;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct barrier *barriers;
    size_t nbarriers;
    int *group_failed; /* per group: an instance failed */
    struct obs obs[16];
    size_t nobs;
    /* Delivery of the pieces of separating plans in this pass (steps.h): counts of
     * sends delivered server-synchronised and timed, pace waits that gave up, and
     * after_server waits that could not be synchronised (no server log). */
    int n_sync, n_timed, pace_fails, unsynced_waits;
    enum ec_verdict v[3]; /* data, close, server path */
    enum ec_verdict verdict;
    struct failure *first;
    char diagnosis[64];
    char evidence[640]; /* what names the cause (causes.c), "" if nothing more */
};

struct deviation {
    char *case_name;
    char *diagnosis;
    char *reason;
};

struct run {
    const struct ec_replay_opts *o;
    struct ec_fixture fx;
    struct ec_server_proc srv;
    int have_srv;
    int foreign;  /* started from a "{port}" command: its output is not echoconf's log */
    int can_pace; /* the server's log is ours to read: started by us, not foreign, not
                   * --quiet (engine.c, "the server's log, per connection") */
    char server_cmd[2048];
    char host[64];
    unsigned port;
    uint64_t seed;
    int64_t start_ms;
    struct pass passes[48];
    size_t npasses, passes_run;
    int failed_pass;
    int any_failure;
    int abort_seen;
    int frozen;           /* a freeze_server step stopped the server and no thaw_server followed */
    int obs_fds, obs_cpu; /* process observations supported */
    int obs_rss;          /* resident memory observable (a server we started) */
    int under_wine;       /* ec_replay_under_wine(o), for the profile and the report */
    /* profile */
    char profile_file[1024];
    struct deviation *devs;
    size_t ndevs;
    const struct deviation *dev; /* the deviation declared for this case, if any */
    struct deviation *may;       /* the may-entry of this case, if any (profile.c) */
    char unsupported_reason[300];
    /* results */
    char server_diag[48];
    char server_note[160];
    char harness_error[1200];
    int start_retries; /* Wine start-up failures the server was started again after */
    int log_failed; /* index + 1 of the first unmatched log expectation */
    enum ec_verdict server_v, log_v, raw, final;
    char diagnosis[64];
    char evidence[640];
    int should_missed; /* a SHOULD-level case failed only its SHOULD: PASS-NONSTRICT */
};

/* The pass budget in ms, scaled. */
int ec__budget_ms(const struct pass *ps);

/* Loads the model's profile (if any) into r: deviations, unsupported cases and which
 * process observations work. Returns 0 or -1 with "file: $.path: reason" in err. */
int ec__profile_load(struct run *r, char *err, size_t errlen);

/* Applies the declared deviation of this case to the raw verdict: XFAIL when the
 * declared diagnosis happened, XPASS when the case passed anyway, FAIL when another
 * diagnosis happened. A may-entry instead: MAY for a pass or exactly its diagnosis,
 * the raw verdict for anything else. */
enum ec_verdict ec__profile_apply(struct run *r, enum ec_verdict raw);

void ec__profile_free(struct run *r);

/* For a replay that could not start (a broken fixture or profile): writes the JSON
 * result {"verdict": "ERROR", "error": why} if asked, so the matrix shows the reason. */
void ec__report_error(const struct ec_replay_opts *o, const char *why);

/* Adds the evidence of the run to its JSON result j (report_evidence.c): the
 * reproduce command, hex context, the failing connection's two-sided timeline and the
 * server log tail. fp and f may be NULL (no failure). */
struct cJSON;
void ec__json_evidence(struct cJSON *j, const struct run *r, const struct pass *fp,
                       const struct failure *f);

/* One line of a failure's merged timeline: a client or engine event, or a server log
 * line, on the engine's clock. */
struct ec__tl_item {
    int64_t t_us;
    const struct ec_event *ev;
    const struct ec_srv_line *line;
};

/* The failing connection's timeline (report_evidence.c), shared by the printed report
 * and the JSON evidence: the connection's own events and the engine's up to 50 ms
 * after the failure, then the server's log lines about its local port (the port of
 * its last connect) from its first event to srv_after_us after the failure. With
 * foreign set, a server that is not ours (it logs nothing we can attribute) has every
 * line of that window kept. Returns the items sorted by time (free() them; NULL when
 * out of memory), their count in *n and the number of client/engine events in
 * *n_client. */
struct ec__tl_item *ec__failure_timeline(const struct run *r, const struct pass *ps,
                                         const struct failure *f, int64_t srv_after_us,
                                         int foreign, size_t *n, size_t *n_client);

/* Prints the report on stdout and writes the JSON file if asked. */
void ec__report(struct run *r);

/* causes.c: after a pass's first failure is chosen, names its cause where the
 * evidence allows (conformance/README.md, "Precedence"): reordered-bytes and
 * duplicated-bytes for an echo mismatch, connect-failed for a refused connect with
 * nothing listening, idle-timeout:MS for a server that ended idle connections. fi is
 * the instance of ps->first. May rewrite ps->diagnosis and fills ps->evidence. */
void ec__refine_diagnosis(struct pass *ps, const struct inst *fi);

/* causes.c: the requirement's level applied to the run's verdict: a FAIL of a
 * SHOULD-level case with one of its should_diagnoses (and no server death) becomes
 * PASS-NONSTRICT, the diagnosis kept and r->should_missed set. */
enum ec_verdict ec__grade_requirement(struct run *r, enum ec_verdict v);

/* causes.c: no-close-after-eof: after our half-close, every byte sent came back and
 * then neither FIN nor reset came. Fills actual (len bytes) and returns 1, or 0. */
int ec__no_close_after_eof(const struct ec_conn *c, int waited_ms, char *actual, size_t len);

void ec__pass_free(struct pass *ps);
void ec__run_free(struct run *r);

#endif
