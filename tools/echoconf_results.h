/* echoconf_results.h - what `echoconf matrix` and `echoconf gallery` both read from a
 * build: the manifest of models and cases, the JSON result of one cell, and the
 * mutation score (computed here only). Below both commands, so neither calls the
 * other to get it.
 */
#ifndef EC_ECHOCONF_RESULTS_H
#define EC_ECHOCONF_RESULTS_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* One registered model, as the matrix registration wrote it. */
struct ec_manifest_model {
    char id[64];
    char family[16];
    char skip[256]; /* why it cannot run in this build, "" when it can */
};

/* <build>/conformance/manifest.tsv: models (of one family, or all) and cases. */
struct ec_manifest {
    struct ec_manifest_model *models;
    char (*cases)[64];
    size_t nm, nc;
};

/* Reads the manifest of build, keeping only the models of family (NULL: all). Returns
 * 0, or -1 after a message prefixed with who on stderr (no manifest, no memory). */
int ec_manifest_load(const char *build, const char *family, struct ec_manifest *m, const char *who);

void ec_manifest_free(struct ec_manifest *m);

/* Does name match list: comma-separated fnmatch(3) globs, each one a name may match
 * ("posix-*") or, after "!", one it must not ("!faulty-fd-keyed-state"). A name
 * matches when it matches some plain glob (or the list has none) and no "!" glob. NULL
 * or "" matches every name. */
int ec_glob_list_match(const char *list, const char *name);

/* Keeps only the models of m whose id matches the glob list models and the cases whose
 * name matches cases (NULL: all; ec_glob_list_match). Returns 0, or -1 after a message
 * prefixed with who on stderr when a filter leaves no model or no case. */
int ec_manifest_filter(struct ec_manifest *m, const char *models, const char *cases,
                       const char *who);

/* One cell's result: verdict ("" when there is no result), diagnosis, and the reason
 * or error the replay gave. */
struct ec_cell_result {
    char verdict[20];
    char diagnosis[64];
    char reason[300];
};

/* The parsed <build>/conformance-results/<model>/<cs>.json (cJSON_Delete it), or NULL
 * when there is no readable result. */
cJSON *ec_cell_json_read(const char *build, const char *model, const char *cs);

/* Takes verdict, diagnosis and reason (or error) of a parsed result j into r; all ""
 * when j is NULL. */
void ec_cell_result_from_json(const cJSON *j, struct ec_cell_result *r);

/* Reads <build>/conformance-results/<model>/<cs>.json into r. Returns 0, or -1 when
 * there is no readable result (then r->verdict is ""). */
int ec_cell_result_read(const char *build, const char *model, const char *cs,
                        struct ec_cell_result *r);

/* One faulty server in the mutation score. */
struct ec_score_row {
    char id[64];
    const char *verdict; /* caught, MISSED, WRONG-DIAGNOSIS, NO-RESULTS, not-measured */
    char declared[256];  /* the unique diagnoses its profile declares, or "-" */
    char by[1024];       /* the cases that caught it (XFAIL), or "-" */
    char detail[1600];   /* "; ..." notes (undeclared failures, stale profile, skip) */
};

/* The mutation score of build: every faulty server of its manifest, checked against
 * the deviations its profile (profile_dir/<id>.json) declares. A server is caught when
 * some case failed with a declared diagnosis (XFAIL); one this build cannot run is
 * not-measured and not counted. teeth[c] is 1 when some faulty server failed case c
 * (the manifest's cases, in m). */
struct ec_score {
    struct ec_manifest m;
    struct ec_score_row *rows;
    size_t nrows;
    int *teeth;
    int caught, total, skipped;
};

/* Computes s over the faulty servers whose id matches the glob list models (NULL: all;
 * ec_glob_list_match). Returns 0, or -1 after a message on stderr (no manifest, no
 * memory, no server left by the filter). */
int ec_score_compute(const char *build, const char *profile_dir, const char *models,
                     struct ec_score *s);

void ec_score_free(struct ec_score *s);

/* The whole of a file as a NUL-terminated string (free it), or NULL. */
char *ec_cli_read_file(const char *path);

/* The build directory from this executable's path (<build>/bin/echoconf) into out;
 * 0, or -1 when /proc/self/exe cannot be read. */
int ec_cli_default_build(char *out, size_t len);

#endif
