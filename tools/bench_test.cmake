# bench_test.cmake - the test of `echoconf bench` (label bench): a 1-second bench of two
# models, whose results.json must hold every field of every summary row and whose
# plots must exist; then a corrupting server of the gallery (faulty-recvbytes-overflow
# truncates a 1000-byte recv to 768 bytes: the echo jumps ahead) must be reported as an
# error with exit status 1, never as a figure.
# Inputs: -DECHOCONF=<echoconf> -DBIN=<bin dir> -DWORK=<scratch dir>.
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK})

function(fail msg)
    message(FATAL_ERROR "bench test: ${msg}")
endfunction()

# 1. Two models and the floor, two message sizes, one repeat of 1 s.
execute_process(COMMAND ${ECHOCONF} bench --models posix-epoll,posix-poll --conns 4
                        --size 64,4k --duration 1 --repeat 1 --out ${WORK}/ok
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
    fail("the bench of posix-epoll and posix-poll exited ${rc}, expected 0")
endif()
file(READ ${WORK}/ok/results.json json)
foreach(key date machine command floor)
    string(JSON v ERROR_VARIABLE jerr GET "${json}" ${key})
    if(jerr OR v STREQUAL "")
        fail("results.json has no ${key}: ${jerr}")
    endif()
endforeach()
string(JSON nsum LENGTH "${json}" summary)
# floor, posix-epoll, posix-poll x 2 sizes
if(NOT nsum EQUAL 6)
    fail("results.json has ${nsum} summary rows, expected 6")
endif()
set(models "")
math(EXPR last "${nsum} - 1")
foreach(i RANGE ${last})
    string(JSON model GET "${json}" summary ${i} model)
    string(JSON status GET "${json}" summary ${i} status)
    list(APPEND models ${model})
    if(NOT status STREQUAL "ok")
        string(JSON e GET "${json}" summary ${i} error)
        fail("${model}: status ${status}: ${e}")
    endif()
    foreach(m rt_per_s mb_per_s p50_us p99_us p999_us max_us server_cpu_us_per_rt client_cpu
              ratio_rt_to_floor ratio_cpu_to_floor)
        string(JSON v ERROR_VARIABLE jerr GET "${json}" summary ${i} ${m} median)
        if(jerr OR NOT v MATCHES "^[0-9.e+-]+$" OR v EQUAL 0)
            fail("${model}: ${m}.median is '${v}' (${jerr}), expected a positive number")
        endif()
    endforeach()
    string(JSON cb GET "${json}" summary ${i} client_bound)
    if(NOT cb MATCHES "^(ON|OFF|true|false)$")
        fail("${model}: client_bound is '${cb}'")
    endif()
endforeach()
foreach(m floor posix-epoll posix-poll)
    if(NOT m IN_LIST models)
        fail("results.json has no summary of ${m}")
    endif()
endforeach()
foreach(f results.csv runs.csv throughput-s64-d1.png throughput-s64-d1.svg cpu-s4k-d1.png
          cpu-s4k-d1.svg latency-c4-s64-d1.png latency-c4-s4k-d1.svg ratio-rt.png ratio-cpu.svg)
    if(NOT EXISTS ${WORK}/ok/${f})
        fail("${f} was not written")
    endif()
    file(SIZE ${WORK}/ok/${f} size)
    if(size LESS 100)
        fail("${f} has only ${size} bytes")
    endif()
endforeach()

# 2. A corrupting server: an error with the offset, exit status 1.
execute_process(COMMAND ${ECHOCONF} bench
                        --server "${BIN}/echo-faulty-recvbytes-overflow --quiet" --conns 2
                        --size 4k --duration 1 --repeat 1 --out ${WORK}/bad
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 1)
    fail("the bench of a corrupting server exited ${rc}, expected 1")
endif()
file(READ ${WORK}/bad/results.json json)
set(found 0)
string(JSON nsum LENGTH "${json}" summary)
math(EXPR last "${nsum} - 1")
foreach(i RANGE ${last})
    string(JSON model GET "${json}" summary ${i} model)
    if(model STREQUAL "echo-faulty-recvbytes-overflow")
        string(JSON status GET "${json}" summary ${i} status)
        string(JSON e ERROR_VARIABLE jerr GET "${json}" summary ${i} error)
        string(JSON rt GET "${json}" summary ${i} rt_per_s median)
        if(NOT status STREQUAL "error" OR NOT e MATCHES "wrong byte" OR NOT rt STREQUAL "")
            fail("the corrupting server: status '${status}', error '${e}', rt/s '${rt}': "
                 "expected an error naming the wrong byte and no figure")
        endif()
        set(found 1)
    endif()
endforeach()
if(NOT found)
    fail("results.json has no row of echo-faulty-recvbytes-overflow")
endif()
message("bench test: passed")
