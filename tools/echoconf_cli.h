/* echoconf_cli.h - subcommands of the echoconf executable that live in their own
 * files (tools/echoconf_matrix.c, tools/echoconf_gallery.c).
 */
#ifndef EC_ECHOCONF_CLI_H
#define EC_ECHOCONF_CLI_H

#include <stddef.h>

/* `echoconf matrix [--build DIR] [-j N] [--family F] [--no-run | --repeat N]`: runs
 * every registered model x case through ctest in the build directory (found from this
 * executable's location by default: <build>/bin/echoconf), then prints the table (of
 * the last run). With --repeat N it runs the matrix N times and also prints every
 * cell whose verdict or diagnosis changed between runs, with each run's failing plan,
 * delivery and seed (the flake hunter). Returns 0 when every cell of every run is
 * PASS, PASS-NONSTRICT, XFAIL, MAY, UNSUPPORTED or skipped and no cell changed, 1
 * otherwise, 2 on bad usage or a missing build. */
int ec_cli_matrix(int argc, char **argv);

/* Called after each run of the matrix with the run's number (1..N), once its results
 * are in the build directory. */
typedef void (*ec_matrix_run_cb)(int run, void *arg);

/* ec_cli_matrix, calling cb(run, arg) after each run when cb is not NULL (the gallery
 * counts catches per run this way). */
int ec_cli_matrix_runs(int argc, char **argv, ec_matrix_run_cb cb, void *arg);

/* `echoconf gallery [--build DIR] [-j N] [--no-run | --repeat N] [--profile-dir DIR]`:
 * runs the faulty family through ec_cli_matrix (unless --no-run), then prints one line
 * per faulty server (declared diagnoses, the cases that caught it, the verdict), the
 * catalogue cases no faulty server fails, and the mutation score. A may-entry (MAY)
 * never counts as a catch. With --repeat N the matrix runs N times (changed cells are
 * listed as by matrix --repeat) and each faulty server's catch rate is printed: the
 * runs in which some case caught it with a declared diagnosis. Returns 0 only when
 * every measured bug was caught in every run and no cell changed, 1 otherwise, 2 on
 * bad usage or a missing build. */
int ec_cli_gallery(int argc, char **argv);

/* The mutation score from the last results in build: *caught of *total faulty
 * servers (skipped ones are not counted) failed some case with the diagnosis their
 * profile (in profile_dir) declares. With print, also prints the per-server lines and
 * the toothless cases. Returns 0, or -1 when the manifest cannot be read. */
int ec_gallery_score(const char *build, const char *profile_dir, int print, int *caught,
                     int *total);

/* One faulty server's catches over repeated runs (ec_gallery_tally). */
struct ec_gallery_rate {
    char id[64];
    int caught_runs; /* runs in which a case failed with a declared diagnosis (XFAIL) */
    int runs;        /* runs measured */
};

/* Adds the last results in build to the rates: one more run for every measured faulty
 * server, one more caught run for those some case caught. rates holds *n entries (at
 * most max; new servers are appended). Returns 0, or -1 when the manifest cannot be
 * read. */
int ec_gallery_tally(const char *build, const char *profile_dir, struct ec_gallery_rate *rates,
                     size_t *n, size_t max);

/* The whole of a file as a NUL-terminated string (free it), or NULL. */
char *ec_cli_read_file(const char *path);

/* The build directory from this executable's path (<build>/bin/echoconf) into out;
 * 0, or -1 when /proc/self/exe cannot be read. */
int ec_cli_default_build(char *out, size_t len);

#endif
