/* echoconf_cli.h - subcommands of the echoconf executable that live in their own
 * files (tools/echoconf_matrix.c, tools/echoconf_gallery.c).
 */
#ifndef EC_ECHOCONF_CLI_H
#define EC_ECHOCONF_CLI_H

#include <stddef.h>

/* `echoconf matrix [--build DIR] [-j N] [--family F] [--no-run]`: runs every
 * registered model x case through ctest in the build directory (found from this
 * executable's location by default: <build>/bin/echoconf), then prints the table.
 * Returns 0 when every cell is PASS, PASS-NONSTRICT, XFAIL, UNSUPPORTED or skipped,
 * 1 otherwise, 2 on bad usage or a missing build. */
int ec_cli_matrix(int argc, char **argv);

/* `echoconf gallery [--build DIR] [-j N] [--no-run] [--profile-dir DIR]`: runs the
 * faulty family through ec_cli_matrix (unless --no-run), then prints one line per
 * faulty server (declared diagnoses, the cases that caught it, the verdict), the
 * catalogue cases no faulty server fails, and the mutation score. Returns 0 only when
 * every measured bug was caught with its declared diagnosis, 1 otherwise, 2 on bad
 * usage or a missing build. */
int ec_cli_gallery(int argc, char **argv);

/* The mutation score from the last results in build: *caught of *total faulty
 * servers (skipped ones are not counted) failed some case with the diagnosis their
 * profile (in profile_dir) declares. With print, also prints the per-server lines and
 * the toothless cases. Returns 0, or -1 when the manifest cannot be read. */
int ec_gallery_score(const char *build, const char *profile_dir, int print, int *caught,
                     int *total);

/* `echoconf record ...` (tools/echoconf_record.c): a TCP relay that records every
 * connection and writes the session as a fixture. Returns 0 written, 2 bad usage or
 * unwritable, 3 the target refused (nothing written), 4 nothing recorded. */
int ec_cli_record(int argc, char **argv);

/* `echoconf fuzz ...` (tools/difffuzz/): seeded random client scripts against the
 * selected models, echo and differential oracles, shrunk disagreements written as
 * fixtures. Returns 0 without disagreement, 1 with, 2 on bad usage. */
int ec_cli_fuzz(int argc, char **argv);

/* `echoconf bench (--models GLOB | --server CMD | --target HOST:PORT) [...]`: the cost
 * of each model against ec-bench-floor (tools/echoconf_bench.c; --help lists the
 * options). Returns 0 when every run measured, 1 when a contender failed (a wrong
 * byte, a stall, a close), 2 on bad usage, 4 when the outputs could not be written. */
int ec_cli_bench(int argc, char **argv);

/* The whole of a file as a NUL-terminated string (free it), or NULL. */
char *ec_cli_read_file(const char *path);

/* The build directory from this executable's path (<build>/bin/echoconf) into out;
 * 0, or -1 when /proc/self/exe cannot be read. */
int ec_cli_default_build(char *out, size_t len);

#endif
