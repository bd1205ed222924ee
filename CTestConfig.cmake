# CTestConfig.cmake - where dashboard runs submit (`ctest -D Experimental`, or the
# `ctest -S tools/dashboard.cmake` script): the CDash submit URL of your project,
# given when the build is configured, e.g.
#   ECHOCONF_CDASH_URL='https://cdash.example.org/submit.php?project=echoconf' cmake --preset default
# Without it, ctest runs and records the tests (Testing/<tag>/Test.xml) and only the
# submission step fails, saying that no drop site is set.
set(CTEST_PROJECT_NAME "echoconf")
set(CTEST_NIGHTLY_START_TIME "00:00:00 UTC")
if(DEFINED ENV{ECHOCONF_CDASH_URL})
    set(CTEST_SUBMIT_URL "$ENV{ECHOCONF_CDASH_URL}")
endif()
