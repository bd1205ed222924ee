/* ec_log.h - the server log: one line per event on stdout, shared by every model.
 *
 * Lines (the server contract; the conformance engine matches them with PCRE2):
 *   listening A:P
 *   accept peer=A:P
 *   recv peer=A:P bytes=N        (one per recv that returned N > 0 bytes, every framing)
 *   frame peer=A:P bytes=N       (framed modes: one per whole frame, N its wire length)
 *   send peer=A:P bytes=N
 *   close peer=A:P reason=eof|reset|error:<class>
 *   refuse peer=A:P reason=<why>
 * Each line is written with one call and flushed, so lines from threads never mix.
 */
#ifndef EC_LOG_H
#define EC_LOG_H

#include <stddef.h>

/* printf-style checking. MinGW's "printf" archetype is the MSVCRT one, which lacks
 * %zu; echoconf builds it with __USE_MINGW_ANSI_STDIO (C99 printf), so check against
 * gnu_printf there. */
#if defined(__MINGW32__)
#define EC_PRINTF_LIKE(fmt, first) __attribute__((format(gnu_printf, fmt, first)))
#elif defined(__GNUC__)
#define EC_PRINTF_LIKE(fmt, first) __attribute__((format(printf, fmt, first)))
#else
#define EC_PRINTF_LIKE(fmt, first)
#endif

/* Quiet mode keeps only the readiness line. */
void ec_log_set_quiet(int quiet);

/* The program name that prefixes ec_warn() messages ("echo-posix-epoll"); a program
 * sets it once at start (a server: its executable's name). Default "echoconf". The string must outlive the process's
 * use of the log. */
void ec_log_set_name(const char *name);

/* "listening A:P", always printed and flushed. */
void ec_log_ready(const char *addrport);

void ec_log_accept(const char *peer);

/* "recv peer=.. bytes=N" (framed = 0: one recv of N bytes) or "frame peer=.. bytes=N"
 * (framed = 1: one whole frame, N is its wire length). A framed server logs both: the
 * recv lines let the conformance engine know the server has taken every byte sent so
 * far before it sends the next piece of a write plan. */
void ec_log_recv(const char *peer, size_t bytes, int framed);

void ec_log_send(const char *peer, size_t bytes);

/* reason: 0 = eof, -EC_ECONNRESET = reset, any other negative class = error:<name>. */
void ec_log_close(const char *peer, int reason);

/* why: a short word without spaces, e.g. "max-clients", "fd-setsize", "no-descriptors". */
void ec_log_refuse(const char *peer, const char *why);

/* A line in the same format for anything else (printf-style, no newline). Used
 * sparingly: every event kind a server prints must be one of the above. */
void ec_log_line(const char *fmt, ...) EC_PRINTF_LIKE(1, 2);

/* A diagnostic on stderr (not part of the log contract): "echo-<model>: ...". */
void ec_warn(const char *fmt, ...) EC_PRINTF_LIKE(1, 2);

#endif
