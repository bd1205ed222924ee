# CMake toolchain file: cross-compile for 64-bit Windows with MinGW-w64 (Debian package
# gcc-mingw-w64-x86-64). Used by the win32 sub-build that the main build drives
# (cmake/EchoconfWin32.cmake), and usable by hand from a separate build directory:
#   cmake -S servers/win32 -B build-mingw -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake
# ECHOCONF_MINGW_PREFIX selects another triplet (e.g. a toolchain in /opt).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(ECHOCONF_MINGW_PREFIX "x86_64-w64-mingw32" CACHE STRING
    "Target triplet of the MinGW-w64 cross toolchain (the compiler is <triplet>-gcc)")

# Debian installs <triplet>-gcc as an alternative over the -win32 and -posix variants.
# The win32 thread model is the right one: the servers use Win32 threads only.
find_program(CMAKE_C_COMPILER NAMES ${ECHOCONF_MINGW_PREFIX}-gcc ${ECHOCONF_MINGW_PREFIX}-gcc-win32)
find_program(CMAKE_RC_COMPILER NAMES ${ECHOCONF_MINGW_PREFIX}-windres)
if(NOT CMAKE_C_COMPILER)
    message(FATAL_ERROR "${ECHOCONF_MINGW_PREFIX}-gcc not found: install the Debian package "
                        "'gcc-mingw-w64-x86-64' (or run tools/install-deps.sh)")
endif()

# Headers and libraries come from the MinGW sysroot only; programs run on the host.
set(CMAKE_FIND_ROOT_PATH /usr/${ECHOCONF_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# With Wine installed, try_run and any add_test(COMMAND <target>) run the .exe through
# it (Debian's wine64 package has no `wine` wrapper in PATH, hence the extra path).
find_program(ECHOCONF_WINE64 NAMES wine64 wine PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(ECHOCONF_WINE64)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${ECHOCONF_WINE64})
endif()
