# dashboard.cmake - one dashboard run for CDash: configure, build and test a fresh
# build directory, then submit when a submit URL is known. Run from the source tree:
#   ECHOCONF_CDASH_URL='https://cdash.example.org/submit.php?project=echoconf' \
#       ctest -S tools/dashboard.cmake [-DMODEL=Nightly] [-DLABELS=conformance]
#             [-DBINARY_DIR=build/ci] -V
# Without ECHOCONF_CDASH_URL it runs everything and keeps the XML in
# <binary dir>/Testing (what would have been submitted). BINARY_DIR reuses a build
# directory (default: a fresh build/dashboard).
cmake_minimum_required(VERSION 3.25)
get_filename_component(CTEST_SOURCE_DIRECTORY "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
if(BINARY_DIR)
    get_filename_component(CTEST_BINARY_DIRECTORY "${BINARY_DIR}" ABSOLUTE
                           BASE_DIR "${CTEST_SOURCE_DIRECTORY}")
else()
    set(CTEST_BINARY_DIRECTORY "${CTEST_SOURCE_DIRECTORY}/build/dashboard")
endif()
cmake_host_system_information(RESULT host QUERY HOSTNAME)
set(CTEST_SITE "${host}")
set(CTEST_BUILD_NAME "Debian-${CMAKE_SYSTEM_PROCESSOR}-RelWithDebInfo")
set(CTEST_CMAKE_GENERATOR "Unix Makefiles")
set(CTEST_BUILD_FLAGS "-j2")
if(NOT MODEL)
    set(MODEL Experimental)
endif()
if(DEFINED ENV{ECHOCONF_CDASH_URL})
    set(CTEST_SUBMIT_URL "$ENV{ECHOCONF_CDASH_URL}")
endif()
ctest_start(${MODEL})
ctest_configure(OPTIONS "-DCMAKE_BUILD_TYPE=RelWithDebInfo")
ctest_build()
if(LABELS)
    ctest_test(PARALLEL_LEVEL 2 INCLUDE_LABEL "${LABELS}" RETURN_VALUE test_rc)
else()
    ctest_test(PARALLEL_LEVEL 2 RETURN_VALUE test_rc)
endif()
if(CTEST_SUBMIT_URL)
    ctest_submit(RETURN_VALUE submit_rc)
else()
    message(STATUS "no ECHOCONF_CDASH_URL: results kept in ${CTEST_BINARY_DIRECTORY}/Testing")
endif()
