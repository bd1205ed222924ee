# Finds the libraries echoconf needs on the build host. A missing one stops
# configuration with the Debian package that provides it (tools/install-deps.sh
# installs them all).
find_package(Threads REQUIRED)

find_package(PkgConfig)
if(NOT PkgConfig_FOUND)
    message(FATAL_ERROR "pkg-config not found: install the Debian package 'pkg-config' "
                        "(or run tools/install-deps.sh)")
endif()

pkg_check_modules(PCRE2 IMPORTED_TARGET libpcre2-8)
if(NOT PCRE2_FOUND)
    message(FATAL_ERROR "PCRE2 (libpcre2-8) not found: install the Debian package "
                        "'libpcre2-dev' (or run tools/install-deps.sh)")
endif()

find_package(cJSON CONFIG QUIET)
if(TARGET cjson)
    add_library(ec_cjson INTERFACE)
    target_link_libraries(ec_cjson INTERFACE cjson)
else()
    pkg_check_modules(CJSON IMPORTED_TARGET libcjson)
    if(NOT CJSON_FOUND)
        message(FATAL_ERROR "cJSON not found: install the Debian package 'libcjson-dev' "
                            "(or run tools/install-deps.sh)")
    endif()
    add_library(ec_cjson INTERFACE)
    target_link_libraries(ec_cjson INTERFACE PkgConfig::CJSON)
endif()

# liburing is optional: only posix-uring needs it. Without it that model is still
# registered, and its tests report "skipped: liburing not found at configure time".
pkg_check_modules(URING IMPORTED_TARGET liburing)
if(URING_FOUND)
    message(STATUS "liburing ${URING_VERSION}: posix-uring will be built")
else()
    message(STATUS "liburing not found (Debian: liburing-dev): posix-uring is SKIPPED")
endif()
