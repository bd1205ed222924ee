/* echoconf_cli.h - subcommands of the echoconf executable that live in their own
 * files (tools/echoconf_matrix.c).
 */
#ifndef EC_ECHOCONF_CLI_H
#define EC_ECHOCONF_CLI_H

/* `echoconf matrix [--build DIR] [-j N] [--family F] [--no-run]`: runs every
 * registered model x case through ctest in the build directory (found from this
 * executable's location by default: <build>/bin/echoconf), then prints the table.
 * Returns 0 when every cell is PASS, PASS-NONSTRICT, XFAIL, UNSUPPORTED or skipped,
 * 1 otherwise, 2 on bad usage or a missing build. */
int ec_cli_matrix(int argc, char **argv);

#endif
