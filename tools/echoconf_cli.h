/* echoconf_cli.h - subcommands of the echoconf executable that live in their own
 * files (tools/echoconf_matrix.c, echoconf_gallery.c, echoconf_bench.c).
 */
#ifndef EC_ECHOCONF_CLI_H
#define EC_ECHOCONF_CLI_H

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

/* `echoconf diagnose (--server "CMD" | --target HOST:PORT) ...` (--help for all):
 * the whole catalogue against one server, one replay process per case; prints a line
 * per case, the failures in full and the edge profile in words; writes HTML, JSON or
 * JUnit on request. Returns 0 when every case passed (or deviated as a --profile
 * declares), 1 otherwise, 2 on bad usage or a server that cannot be started or
 * reached. */
int ec_cli_diagnose(int argc, char **argv);

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

#endif
