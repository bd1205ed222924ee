# expect_exit.cmake: runs CMD (a ;-list) and checks its exit status (RC) and that its
# stdout+stderr match RE. Used by the engine tests whose point is an exit status
# (2 for a broken fixture) together with the message naming file and JSON path.
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc STREQUAL "${RC}")
    message(FATAL_ERROR "exit status ${rc}, expected ${RC}")
endif()
if(NOT "${out}${err}" MATCHES "${RE}")
    message(FATAL_ERROR "output does not match: ${RE}")
endif()
