/* diagnoses.c - the diagnosis vocabulary's table (names from diagnoses.h, each with
 * its one-line meaning) and the check the fixture and profile loaders use. It lives
 * in ec_steps, so the clients have it without the engine's JSON and regex libraries.
 */
#include "diagnoses.h"

#include <string.h>

const struct ec_diagnosis_info ec_diagnosis_table[] = {
    {EC_DIAG_ECHO_MISMATCH, 0, "the echo differs from the bytes sent"},
    {EC_DIAG_DUPLICATED, 0, "the echo repeats a span of bytes this connection sent before"},
    {EC_DIAG_REORDERED, 0, "the echo holds exactly the bytes sent, in another order"},
    {EC_DIAG_TRUNCATED, 0, "the connection ended before the whole echo came back"},
    {EC_DIAG_LOST_AFTER_HALF_CLOSE, 0, "echo owed at the client's FIN never came back"},
    {EC_DIAG_NO_CLOSE_AFTER_EOF, 0, "the whole echo came after the client's FIN, then no close"},
    {EC_DIAG_STALL, 0, "the server stopped answering within the deadline"},
    {EC_DIAG_SERIALIZED, 0, "a second client waits until the first one leaves"},
    {EC_DIAG_HOL, 0, "one slow or stuck client delays every other one"},
    {EC_DIAG_CAPACITY, 1, "listening, the server held N clients, fewer than asked for"},
    {EC_DIAG_DIED_AFTER_RESET, 0, "the server process ended after a client's reset"},
    {EC_DIAG_FD_LEAK, 1, "the server holds N more descriptors after clients left"},
    {EC_DIAG_BUSY_POLL, 0, "an idle server burns CPU"},
    {EC_DIAG_CRASH, 1, "the server was killed by signal SIGNAL"},
    {EC_DIAG_PREMATURE_CLOSE, 0, "the server closed (FIN) before its work was done"},
    {EC_DIAG_IDLE_TIMEOUT, 1, "the server ended a connection after about MS ms of silence"},
    {EC_DIAG_UNEXPECTED_RESET, 0, "the server reset a connection that should end in FIN"},
    {EC_DIAG_FRAME_ERROR, 0, "frames split or coalesced by TCP came back wrong"},
    {EC_DIAG_CROSS_TALK, 0, "a connection received another connection's bytes"},
    {EC_DIAG_UNFAIR, 0, "one busy connection starves another"},
    {EC_DIAG_SERVER_EXITED, 1, "the server exited on its own with status N"},
    {EC_DIAG_LOG_MISMATCH, 0, "the server's log lacks an expected line, or in order"},
    {EC_DIAG_UNEXPECTED_DATA, 0, "bytes arrived where none were owed"},
    {EC_DIAG_CONNECT_FAILED, 0, "a connect failed: nothing listened, or another error"},
    {EC_DIAG_NAGLE, 0,
     "an echo sent in pieces waits for the peer's delayed ACK (Nagle): ~40 ms a round trip"},
    {EC_DIAG_UNBOUNDED_FRAME, 0,
     "the server kept a connection whose length prefix announced more than its maximum"},
    {EC_DIAG_UNBOUNDED_BUFFERING, 0,
     "the server buffered without bound: memory grew with unread or undelimited input"},
};

const size_t ec_diagnosis_count = sizeof ec_diagnosis_table / sizeof ec_diagnosis_table[0];

int ec_diagnosis_known(const char *name)
{
    for (size_t i = 0; i < ec_diagnosis_count; i++) {
        const struct ec_diagnosis_info *d = &ec_diagnosis_table[i];
        size_t n = strlen(d->name);
        if (strncmp(name, d->name, n) != 0)
            continue;
        if (name[n] == '\0' || (d->suffix && name[n] == ':'))
            return 1;
    }
    return 0;
}

int ec_diagnosis_is_harness(const char *name)
{
    return strcmp(name, EC_DIAG_FIXTURE_ERROR) == 0 || strcmp(name, EC_DIAG_HARNESS_ERROR) == 0;
}
