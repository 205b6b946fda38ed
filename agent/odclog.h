/* ODC's own log as a failed health gate reports it: what the supervisor
 * said (`docker logs`), then the end of odc.log, and the ERROR lines that
 * say why. Pure text work; plan-steps.c reads the logs through Docker. */
#ifndef ODC_AGENT_ODCLOG_H
#define ODC_AGENT_ODCLOG_H

#include <stdbool.h>
#include <stddef.h>

/* How much of odc.log's end to read for odclog_report: a crash-looping ODC
 * (supervisord restarts it forever) is booting again when the gate gives
 * up, and a JVM's boot and its stack traces log far more than the end
 * shown; the ERROR that ended the last run lies further back. */
#define ODCLOG_SCAN (1u << 20)
/* Of that, the end shown in the report, and at most this much of the last
 * ERROR and the lines after it when that ERROR is before the end shown. */
#define ODCLOG_END_SHOWN   9000
#define ODCLOG_ERROR_SHOWN 1800

/* Writes to tail the report of a failed health gate:
 *   --- docker logs (the supervisor) ---   supervisor, or "(cannot be read)"
 *   --- <file>, its last ERROR and what followed (it went on after) ---
 *                                          only when that ERROR is not in
 *                                          the end shown
 *   --- <file>, its end ---                its last ODCLOG_END_SHOWN bytes
 *                                          from a line's start, or "(cannot
 *                                          be read)" when log is NULL
 * ODC's own log last: displays show a tail's end. log is the end of file
 * (path, for the headings) as read. */
void odclog_report(const char *supervisor, const char *path, const char *log, char *tail,
                   size_t taillen);

/* The last ERROR lines of log (up to three, oldest first, joined by " | "),
 * cut to fit out: the cause is often one line before the generic "run
 * failed". A line that says what a later one says (the same failure of an
 * earlier run of a crash-looping ODC; only time and process id differ) is
 * left out. false, with out empty, when there is none. */
bool odclog_errors(const char *log, char *out, size_t outlen);

#endif
