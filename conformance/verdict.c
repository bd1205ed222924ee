/* verdict.c - names, exit statuses and the order of the verdicts (verdict.h). */
#include "verdict.h"

const char *ec_verdict_name(enum ec_verdict v)
{
    static const char *const n[] = {"PASS",        "PASS-NONSTRICT", "XFAIL",      "MAY",
                                    "UNSUPPORTED", "XPASS",          "FAIL",       "TIMEOUT",
                                    "ERROR",       "not checked",    "not reached"};
    return (unsigned)v < sizeof n / sizeof n[0] ? n[v] : "?";
}

int ec_verdict_exit(enum ec_verdict v)
{
    switch (v) {
    case EC_V_PASS:
    case EC_V_PASS_NONSTRICT:
    case EC_V_XFAIL:
    case EC_V_MAY:
        return 0;
    case EC_V_UNSUPPORTED:
        return 77;
    case EC_V_ERROR:
        return 2;
    default:
        return 1;
    }
}

/* Severity order for "worst of": PASS < PASS-NONSTRICT < FAIL < TIMEOUT < ERROR. */
static int severity(enum ec_verdict v)
{
    switch (v) {
    case EC_V_PASS:
        return 1;
    case EC_V_PASS_NONSTRICT:
        return 2;
    case EC_V_FAIL:
        return 3;
    case EC_V_TIMEOUT:
        return 4;
    case EC_V_ERROR:
        return 5;
    default:
        return 0;
    }
}

enum ec_verdict ec__worst(enum ec_verdict a, enum ec_verdict b)
{
    return severity(b) > severity(a) ? b : a;
}

int ec__verdict_failed(enum ec_verdict v)
{
    return severity(v) >= severity(EC_V_FAIL);
}
