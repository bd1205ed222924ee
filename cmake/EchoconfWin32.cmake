# The win32 models: cross-built with MinGW-w64 by a sub-build (servers/win32 is a
# project of its own, configured with cmake/mingw-w64-x86_64.cmake) and run under Wine.
# Every servers/win32/<name>.c is the model win32-<name>, every
# servers/faulty/win32/<name>.c the model faulty-win32-<name> (family faulty):
# registered with ec_register_model when it can be built and run here, with
# ec_skip_server (the reason shown, the tests reported as skipped) when it cannot.
#
# Provides, for tests/win32 and the conformance engine:
#   ECHOCONF_WIN32_AVAILABLE      TRUE when the .exe files are built and Wine runs them
#   ECHOCONF_WIN32_SKIP_REASON    why not, otherwise
#   ECHOCONF_WIN32_PREFIX         the WINEPREFIX of the test run (inside the build tree)
#   ECHOCONF_WINE64, ECHOCONF_WINESERVER   the Wine programs
#   ECHOCONF_WINE_DESKTOP         the fixture's desktop holder (ec-wine-desktop.exe)
#   ec_win32_test_properties(<test>...)    what every test of a win32 model needs

file(GLOB _ec_win32_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/servers/win32/*.c)
# The Winsock servers of the faulty gallery: servers/faulty/win32/<name>.c is the model
# faulty-win32-<name> of family faulty, built and run like the win32 models.
file(GLOB _ec_win32_faulty_sources CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/servers/faulty/win32/*.c)

set(ECHOCONF_WIN32_AVAILABLE FALSE)
set(ECHOCONF_WIN32_SKIP_REASON "")
set(ECHOCONF_WIN32_PREFIX ${PROJECT_BINARY_DIR}/wineprefix)
set(_ec_win32_build FALSE)

if(NOT ECHOCONF_WIN32)
    set(ECHOCONF_WIN32_SKIP_REASON "ECHOCONF_WIN32 is OFF")
else()
    find_program(ECHOCONF_MINGW_CC NAMES x86_64-w64-mingw32-gcc x86_64-w64-mingw32-gcc-win32
                 DOC "MinGW-w64 C compiler for the win32 servers")
    # Debian's wine64 package installs wine64 and wineserver in /usr/lib/wine, outside
    # PATH, and no `wine` wrapper; other distributions put `wine` in PATH.
    find_program(ECHOCONF_WINE64 NAMES wine64 wine PATHS /usr/lib/wine
                 DOC "Wine loader that runs the win32 servers")
    if(ECHOCONF_WINE64)
        get_filename_component(_ec_wine_dir ${ECHOCONF_WINE64} DIRECTORY)
        find_program(ECHOCONF_WINESERVER NAMES wineserver HINTS ${_ec_wine_dir}
                     PATHS /usr/lib/wine DOC "The wineserver of that Wine")
    endif()
    if(NOT ECHOCONF_MINGW_CC)
        set(ECHOCONF_WIN32_SKIP_REASON
            "x86_64-w64-mingw32-gcc not found (Debian: gcc-mingw-w64-x86-64)")
    else()
        # With the compiler alone the .exe files are still built (they run on Windows).
        set(_ec_win32_build TRUE)
        if(NOT ECHOCONF_WINE64 OR NOT ECHOCONF_WINESERVER)
            set(ECHOCONF_WIN32_SKIP_REASON "wine64/wineserver not found (Debian: wine64)")
        else()
            set(ECHOCONF_WIN32_AVAILABLE TRUE)
        endif()
    endif()
endif()

# The fixture's desktop holder (tests/win32/wine-desktop.c), built by the sub-build.
set(ECHOCONF_WINE_DESKTOP ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/ec-wine-desktop.exe)
set(_ec_win32_exes ${ECHOCONF_WINE_DESKTOP})
set(_ec_win32_ids "")
foreach(src IN LISTS _ec_win32_sources)
    get_filename_component(name ${src} NAME_WE)
    list(APPEND _ec_win32_ids win32-${name})
endforeach()
foreach(src IN LISTS _ec_win32_faulty_sources)
    get_filename_component(name ${src} NAME_WE)
    list(APPEND _ec_win32_ids faulty-win32-${name})
endforeach()
foreach(id IN LISTS _ec_win32_ids)
    set(exe ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/echo-${id}.exe)
    list(APPEND _ec_win32_exes ${exe})
    # The family is the id's first word: win32, or faulty for the gallery's servers.
    string(REGEX REPLACE "-.*" "" family ${id})
    if(ECHOCONF_WIN32_AVAILABLE)
        ec_register_model(${id} ${family} ${ECHOCONF_WINE64} ${exe})
    else()
        ec_skip_server(${id} "${ECHOCONF_WIN32_SKIP_REASON}")
    endif()
endforeach()

if(ECHOCONF_WIN32_AVAILABLE)
    execute_process(COMMAND ${ECHOCONF_WINE64} --version OUTPUT_VARIABLE _ec_wine_version
                    ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE TIMEOUT 20)
    message(STATUS "win32 models: ${ECHOCONF_MINGW_CC}, run under ${ECHOCONF_WINE64} "
                   "(${_ec_wine_version}), WINEPREFIX ${ECHOCONF_WIN32_PREFIX}")
elseif(ECHOCONF_WIN32_SKIP_REASON)
    message(STATUS "win32 models: tests SKIPPED (${ECHOCONF_WIN32_SKIP_REASON})")
endif()

if(_ec_win32_build)
    include(ExternalProject)
    set(_ec_win32_args
        -DCMAKE_TOOLCHAIN_FILE=${PROJECT_SOURCE_DIR}/cmake/mingw-w64-x86_64.cmake
        -DCMAKE_C_COMPILER=${ECHOCONF_MINGW_CC}
        -DECHOCONF_WERROR=${ECHOCONF_WERROR}
        -DECHOCONF_WIN32_OUTPUT_DIR=${CMAKE_RUNTIME_OUTPUT_DIRECTORY})
    if(CMAKE_BUILD_TYPE)
        list(APPEND _ec_win32_args -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE})
    endif()
    # BUILD_ALWAYS: the sub-build decides what is out of date, so an edit of a model
    # or of lib/ rebuilds the .exe files on the next build of the main project.
    ExternalProject_Add(echoconf_win32
        SOURCE_DIR ${PROJECT_SOURCE_DIR}/servers/win32
        BINARY_DIR ${PROJECT_BINARY_DIR}/win32
        CMAKE_ARGS ${_ec_win32_args}
        BUILD_ALWAYS TRUE
        INSTALL_COMMAND ""
        BUILD_BYPRODUCTS ${_ec_win32_exes})
endif()

# ec_win32_test_properties(<test>...): makes each test run a win32 model under Wine:
# it requires the "wine" fixture (tests/win32: the prefix exists and a persistent
# wineserver runs, so a test starts in a tenth of a second instead of seconds), and it
# gets the Wine environment: the build tree's prefix, no debug output, and no
# Mono/Gecko install dialogs. Properties are appended, so the caller's ENVIRONMENT and
# FIXTURES_REQUIRED stay. The .exe files are built by the main build (the
# echoconf_win32 target is part of `all`). Does nothing when the models are skipped.
function(ec_win32_test_properties)
    if(NOT ECHOCONF_WIN32_AVAILABLE)
        return()
    endif()
    foreach(test IN LISTS ARGN)
        set_property(TEST ${test} APPEND PROPERTY FIXTURES_REQUIRED wine)
        set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT
                     WINEPREFIX=${ECHOCONF_WIN32_PREFIX} WINEDEBUG=-all
                     "WINEDLLOVERRIDES=mscoree,mshtml=")
    endforeach()
endfunction()
