/* ec_log.c - the server log lines (stdout) and diagnostics (stderr).
 *
 * Each line is formatted into a local buffer and written with one fwrite followed by
 * fflush. stdio locks the stream for each call (POSIX flockfile; the Windows CRT
 * locks likewise), so lines written by several threads never interleave.
 */
#include "ec_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ec_sock.h"

/* Set once by the program before any thread starts, read afterwards. */
static int log_quiet;
static const char *log_name = "echoconf";

void ec_log_set_quiet(int quiet)
{
    log_quiet = quiet;
}

void ec_log_set_name(const char *name)
{
    log_name = name != NULL ? name : "echoconf";
}

/* Formats one line (a newline is appended) and writes it to f with one call. */
static void write_line(FILE *f, const char *fmt, va_list ap) EC_PRINTF_LIKE(2, 0);

static void write_line(FILE *f, const char *fmt, va_list ap)
{
    char line[1024];
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    size_t len;
    if (n < 0)
        return;
    /* A truncated line keeps its first 1022 bytes and still ends with a newline. */
    len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, f);
    fflush(f);
}

/* A log line on stdout, unless quiet. */
static void log_event(const char *fmt, ...) EC_PRINTF_LIKE(1, 2);

static void log_event(const char *fmt, ...)
{
    va_list ap;
    if (log_quiet)
        return;
    va_start(ap, fmt);
    write_line(stdout, fmt, ap);
    va_end(ap);
}

void ec_log_ready(const char *addrport)
{
    char line[128];
    int n = snprintf(line, sizeof line, "listening %s\n", addrport);
    if (n > 0 && (size_t)n < sizeof line)
        fwrite(line, 1, (size_t)n, stdout);
    fflush(stdout);
}

void ec_log_accept(const char *peer)
{
    log_event("accept peer=%s", peer);
}

void ec_log_recv(const char *peer, size_t bytes, int framed)
{
    log_event("%s peer=%s bytes=%zu", framed ? "frame" : "recv", peer, bytes);
}

void ec_log_send(const char *peer, size_t bytes)
{
    log_event("send peer=%s bytes=%zu", peer, bytes);
}

void ec_log_close(const char *peer, int reason)
{
    if (reason == 0)
        log_event("close peer=%s reason=eof", peer);
    else if (reason == -EC_ECONNRESET)
        log_event("close peer=%s reason=reset", peer);
    else
        log_event("close peer=%s reason=error:%s", peer, ec_err_name(reason));
}

void ec_log_refuse(const char *peer, const char *why)
{
    log_event("refuse peer=%s reason=%s", peer, why);
}

void ec_log_line(const char *fmt, ...)
{
    va_list ap;
    if (log_quiet)
        return;
    va_start(ap, fmt);
    write_line(stdout, fmt, ap);
    va_end(ap);
}

void ec_warn(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    char line[1100];
    int m = snprintf(line, sizeof line, "%s: %s\n", log_name, msg);
    if (m < 0)
        return;
    size_t len = (size_t)m < sizeof line ? (size_t)m : sizeof line - 1;
    if ((size_t)m >= sizeof line)
        line[len - 1] = '\n';
    fwrite(line, 1, len, stderr);
    fflush(stderr);
}
