/* echoconf_cli.h - subcommands of the echoconf executable that live in their own
 * files (tools/echoconf_matrix.c, echoconf_gallery.c, echoconf_bench.c).
 */
#ifndef EC_ECHOCONF_CLI_H
#define EC_ECHOCONF_CLI_H

/* `echoconf matrix [--build DIR] [-j N] [--family F] [--no-run | --repeat N] ...`:
 * runs every registered model x case through ctest in the build directory (found from
 * this executable's location by default: <build>/bin/echoconf), then prints the table
 * (of the last run). With --repeat N it runs the matrix N times and also prints every
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
 * every measured bug was caught (in every run) and no cell changed, 1 otherwise, 2 on
 * bad usage or a missing build. */
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
