/* echoconf_report.h - what echoconf renders from replay results it did not run
 * itself: the JSON result every replay writes (--json), gathered as models x cases,
 * turned into an edge profile in words, a self-contained HTML report and JUnit XML.
 * Used by `echoconf matrix` and `echoconf diagnose`; depends on nothing but cJSON and
 * the diagnosis vocabulary.
 */
#ifndef EC_ECHOCONF_REPORT_H
#define EC_ECHOCONF_REPORT_H

#include <stddef.h>

struct cJSON;

/* One row of a result set: a model, or the server `diagnose` ran against. */
struct ec_rs_row {
    char id[64];
    char family[16];
    char skip[256]; /* non-empty: every case of the row was skipped, this is why */
};

/* Rows x columns of replay results. cells[r * ncols + c] is the parsed JSON result
 * of that replay, or NULL when there is none. The set owns nothing: the caller frees. */
struct ec_result_set {
    const char *title;    /* "echoconf matrix", "echoconf diagnose: <server>" */
    const char *subtitle; /* one line under the title, may be NULL */
    struct ec_rs_row *rows;
    size_t nrows;
    char (*cols)[64];
    size_t ncols;
    struct cJSON **cells;
};

/* A verdict's class as the reports show it. */
enum ec_rs_class {
    EC_RS_PASS,     /* PASS, PASS-NONSTRICT */
    EC_RS_DECLARED, /* XFAIL, MAY: a declared deviation or may-entry outcome */
    EC_RS_NEUTRAL,  /* UNSUPPORTED, SKIPPED */
    EC_RS_BAD       /* XPASS, FAIL, TIMEOUT, ERROR, no result, unknown */
};

/* The class of a verdict name ("?" or NULL for no result). */
enum ec_rs_class ec_rs_class_of(const char *verdict);

/* The class of a cell (NULL: no result): like its verdict's, except that a MAY
 * without a diagnosis (the may-entry's case passed) is a pass. */
enum ec_rs_class ec_rs_cell_class(const struct cJSON *cell);

/* A cell's string member ("" when absent). */
const char *ec_rs_str(const struct cJSON *cell, const char *name);

/* The edge profile phrase of one diagnosis ("capacity-limit:63" -> "holds at most 63
 * clients") into buf; a name without a phrase of its own gets the vocabulary's
 * one-line meaning, and a name the vocabulary does not know is shown as it is.
 * Returns buf. */
const char *ec_edge_phrase(const char *diagnosis, char *buf, size_t len);

/* The edge profile in words of row r: one line per distinct phrase, "phrase
 * (case, case)", from the diagnoses of the cells that failed or deviated as declared.
 * Returns the number of lines written to lines (each malloc'ed; free them), at most
 * max; 0 when the row showed no deviation. */
size_t ec_edge_profile(const struct ec_result_set *rs, size_t r, char **lines, size_t max);

/* Writes rs as one self-contained HTML file (inline CSS and SVG, no external URL,
 * readable without JavaScript). Returns 0, or -1 with a reason in err. */
int ec_write_html(const struct ec_result_set *rs, const char *path, char *err, size_t errlen);

/* Writes rs as JUnit XML: one testsuite per row, one testcase per cell (failure
 * message = the verdict and diagnosis line). Returns 0, or -1 with a reason in err. */
int ec_write_junit(const struct ec_result_set *rs, const char *path, char *err, size_t errlen);

#endif
