# gallery_test.cmake - the ctest test of `echoconf gallery --no-run` (label gallery):
# a tiny synthetic build directory (manifest, one profile, JSON results) is written
# here, so the mutation score is proven to count without rerunning the faulty family.
# Run as: cmake -DECHOCONF=<echoconf> -DWORK=<scratch dir> -P gallery_test.cmake
if(NOT ECHOCONF OR NOT WORK)
    message(FATAL_ERROR "gallery_test.cmake: pass -DECHOCONF=<path> -DWORK=<dir>")
endif()
file(REMOVE_RECURSE ${WORK})
set(res ${WORK}/conformance-results)
file(WRITE ${WORK}/conformance/manifest.tsv
     "case\tbites\ncase\tblunt\nmodel\tposix-good\tposix\t\n"
     "model\tfaulty-one\tfaulty\t\nmodel\tfaulty-two\tfaulty\t\n"
     "model\tfaulty-absent\tfaulty\tcannot be built here\n")
file(WRITE ${WORK}/profiles/faulty-one.json
     "{\"model\": \"faulty-one\", \"deviations\": [{\"case\": \"bites\", \"diagnosis\": \"stall\", \"reason\": \"r\"}]}")
file(WRITE ${WORK}/profiles/faulty-two.json
     "{\"model\": \"faulty-two\", \"deviations\": [{\"case\": \"bites\", \"diagnosis\": \"echo-mismatch\", \"reason\": \"r\"}]}")
function(result model cs verdict diag)
    file(WRITE ${res}/${model}/${cs}.json
         "{\"case\": \"${cs}\", \"model\": \"${model}\", \"verdict\": \"${verdict}\", \"diagnosis\": \"${diag}\"}")
endfunction()
function(gallery expect_rc expect_text)
    execute_process(COMMAND ${ECHOCONF} gallery --no-run --build ${WORK}
                            --profile-dir ${WORK}/profiles ${ARGN}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    message(STATUS "echoconf gallery exit ${rc}:\n${out}${err}")
    if(NOT rc EQUAL expect_rc)
        message(FATAL_ERROR "expected exit ${expect_rc}, got ${rc}")
    endif()
    string(FIND "${out}" "${expect_text}" at)
    if(at EQUAL -1)
        message(FATAL_ERROR "expected the output to contain \"${expect_text}\"")
    endif()
endfunction()

# Both bugs caught with their declared diagnosis; "blunt" fails no faulty server.
result(posix-good bites PASS "")
result(posix-good blunt PASS "")
result(faulty-one bites XFAIL stall)
result(faulty-one blunt PASS "")
result(faulty-two bites XFAIL echo-mismatch)
result(faulty-two blunt PASS "")
gallery(0 "mutation score: 2 of 2 bugs caught")
gallery(0 "  blunt ")

# faulty-two now fails with another diagnosis than the declared one (FAIL), and
# passes the declared case (XPASS): 1 of 2, exit 1; "blunt" has teeth now.
result(faulty-two bites XPASS "")
result(faulty-two blunt FAIL premature-close)
gallery(1 "mutation score: 1 of 2 bugs caught")
gallery(1 "WRONG-DIAGNOSIS")

# --models scores only the servers it matches: faulty-one alone is 1 of 1 (exit 0),
# and "!" leaves a server out.
gallery(0 "mutation score: 1 of 1 bugs caught" --models faulty-one)
gallery(0 "mutation score: 1 of 1 bugs caught" --models "faulty-*,!faulty-two")
gallery(1 "mutation score: 0 of 1 bugs caught" --models faulty-two)

# Nothing fails at all: MISSED.
result(faulty-two blunt PASS "")
gallery(1 "MISSED")
file(REMOVE_RECURSE ${WORK})
