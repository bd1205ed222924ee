/* evidence.h - what one connection's history says about the cause of a failure: a
 * reorder or a repeat of its own bytes in the echo, an end the server sent after a
 * silence. In ec_steps (no JSON), so the engine (causes.c) and the clients name causes
 * the same way.
 */
#ifndef EC_EVIDENCE_H
#define EC_EVIDENCE_H

#include <stddef.h>

#include "steps.h"

/* The least silence, in ms between the last byte either way and the server's end,
 * that counts as an idle timeout rather than a close right after the echo. */
#define EC_IDLE_MIN_MS 100

/* reordered-bytes: the echo window [d, end) holds exactly the bytes c sent there (the
 * same count of every byte value) in another order. Needs the whole window received.
 * Returns 1 and writes the first swapped spans into ev, or 0. */
int ec_evidence_reordered(const struct ec_conn *c, size_t d, size_t end, char *ev, size_t evlen);

/* duplicated-bytes: the echo from stream offset d repeats a span c sent before d, and
 * the same bytes do not also come later in c's stream (a skip would explain them as
 * well). Returns 1 with the span in ev, or 0. The n bytes at *probe (n <= 32) are what
 * the caller may look for in other connections' streams (cross-talk explains them
 * then); probe may be NULL. */
int ec_evidence_duplicated(const struct ec_conn *c, size_t d, char *ev, size_t evlen,
                           const unsigned char **probe, size_t *n);

/* The silence in ms before the server ended c's stream (c->end) when nothing was owed
 * either way: the client had sent something, had all of it back and sent nothing
 * more, and had not half-closed. -1 for any other end, or none. */
long ec_evidence_quiet_end_ms(const struct ec_conn *c);

/* The same when that end is an idle timeout: the silence was EC_IDLE_MIN_MS or more.
 * -1 otherwise. (A pass of many connections asks more: causes.c.) */
long ec_evidence_idle_ms(const struct ec_conn *c);

/* The largest of 1, 2, 5 x 10^k not above ms plus 10%: how idle-timeout:MS reports a
 * silence, so that the timer tick and the scheduling of a server do not change the
 * figure from run to run. A timer never fires early, only late (its tick, a server
 * waiting for a CPU), and the silence is measured to a few ms, so a 200 ms timer
 * reads 200 from 182 to 454 ms. */
long ec_round_125(long ms);

/* One sentence on c's idle end (silence ms as measured) into ev. */
void ec_evidence_idle_text(const struct ec_conn *c, long ms, char *ev, size_t evlen);

#endif
