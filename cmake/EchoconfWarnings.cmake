# ec_target_warnings(<target>): the project's warning set, applied per target.
# -Wconversion is kept: sizes cross between size_t, int (Winsock lengths) and
# ptrdiff_t (counts or negative error classes) everywhere in a socket toolkit, and
# each crossing should be written down as a cast that says so.
function(ec_target_warnings target)
    if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
        target_compile_options(${target} PRIVATE
            -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes
            -Wmissing-prototypes -Wformat=2)
        if(ECHOCONF_WERROR)
            target_compile_options(${target} PRIVATE -Werror)
        endif()
    elseif(MSVC)
        target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${ECHOCONF_WERROR}>:/WX>)
    endif()
    if(ECHOCONF_SANITIZE)
        target_compile_options(${target} PRIVATE -fsanitize=${ECHOCONF_SANITIZE}
                                                 -fno-omit-frame-pointer)
        target_link_options(${target} PRIVATE -fsanitize=${ECHOCONF_SANITIZE})
        # Every report is fatal: a sanitizer that prints and goes on lets the test pass
        # (the asan workflow once passed with two UBSan reports in its log); a fuzzer
        # must stop at the first undefined behaviour too.
        target_compile_options(${target} PRIVATE -fno-sanitize-recover=all)
    endif()
endfunction()
