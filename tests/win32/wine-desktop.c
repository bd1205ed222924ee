/* wine-desktop.c - ec-wine-desktop.exe: holds the Wine desktop of the test prefix open.
 *
 * Wine starts `explorer.exe /desktop` when a process first creates a window (even a
 * message-only one, as win32-asyncselect does) and ends it about a second after the
 * last such process exits. A desktop process started by a test inherits that test's
 * Unix stderr, a pipe, and keeps it open for as long as any window user lives, so the
 * harness reading the server's output waits for an end that does not come. The "wine"
 * fixture therefore starts this program once: its window keeps one desktop alive for
 * the whole run, started with the fixture's log file as its stderr, and
 * `wineserver -k` ends both at cleanup.
 * Prints "desktop ready" on stdout once its window exists; exits 1 if it cannot make one.
 */
#include <stdio.h>

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

/* Creates a message-only window, reports it, and waits for messages until killed. */
int main(void)
{
    MSG m;
    HWND w = CreateWindowExA(0, "STATIC", "echoconf-wine-desktop", 0, 0, 0, 0, 0, HWND_MESSAGE,
                             NULL, GetModuleHandleA(NULL), NULL);

    if (w == NULL) {
        fprintf(stderr, "ec-wine-desktop: CreateWindowEx failed (%lu)\n",
                (unsigned long)GetLastError());
        return 1;
    }
    printf("desktop ready\n");
    fflush(stdout);
    while (GetMessageA(&m, NULL, 0, 0) > 0)
        DispatchMessageA(&m);
    return 0;
}
