#include "echoconf_cli.h"
int ec_cli_fuzz(int argc, char **argv) { (void)argc; (void)argv; return 2; }
