/* The command line every odc-fleet daemon shares (odc-agent, odc-coordinator). */
#ifndef ODC_COMMON_CLI_H
#define ODC_COMMON_CLI_H

#include <stdio.h>

/* The options before the command: -c/--config FILE (into *conf_path),
 * -v/--verbose (*verbose = 1), -h/--help (usage on stdout), --version
 * ("NAME VERSION (protocol N)", as odcctl prints it). Returns -1 to go on,
 * argv[optind] being the command; else the exit status to end with: 0 after
 * --help or --version, 2 after a usage error or no command (the usage on
 * stderr). */
int cli_daemon_options(int argc, char **argv, const char *name, const char *version, int protocol,
                       void (*usage)(FILE *), const char **conf_path, int *verbose);

#endif
