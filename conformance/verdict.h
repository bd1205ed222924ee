/* verdict.h - the verdicts of a replay and what every part of the engine (running,
 * profiles, reports) and the echoconf command know about them: names, exit statuses,
 * and which of two is worse. Below engine.c, profile.c and report.c, which all use it
 * and which it uses none of.
 */
#ifndef EC_VERDICT_H
#define EC_VERDICT_H

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

/* The worse of two verdicts (PASS < PASS-NONSTRICT < FAIL < TIMEOUT < ERROR; the
 * others rank below PASS). */
enum ec_verdict ec__worst(enum ec_verdict a, enum ec_verdict b);

/* True when v is FAIL or worse (TIMEOUT, ERROR): a pass that ends the sweep. */
int ec__verdict_failed(enum ec_verdict v);

#endif
