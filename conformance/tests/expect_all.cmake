# expect_all.cmake: runs CMD (a ;-list), checks its exit status (RC) and that its
# stdout+stderr match every regular expression of RES (a ;-list), each on its own:
# one pattern with several "(.*\n)*" gaps makes CMake's regex engine backtrack for
# minutes (a PASS_REGULAR_EXPRESSION like that hung ctest).
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc STREQUAL "${RC}")
    message(FATAL_ERROR "exit status ${rc}, expected ${RC}")
endif()
foreach(re IN LISTS RES)
    if(NOT "${out}${err}" MATCHES "${re}")
        message(FATAL_ERROR "output does not match: ${re}")
    endif()
endforeach()
