# url_teeth.cmake: browser_check.py --url-only must accept a report whose links stay
# in the document (#fragments, url(#marker)) and reject each kind of outside
# reference. Run as: cmake -DPY=python3 -DCHECK=browser_check.py -DWORK=dir -P url_teeth.cmake
file(REMOVE_RECURSE ${WORK})
set(ok "<html><a href=\"#e-x\">x</a><svg><line marker-end=\"url(#ah-c2s)\"/></svg></html>")
file(WRITE ${WORK}/ok.html "${ok}")
execute_process(COMMAND ${PY} ${CHECK} ${WORK}/ok.html ${WORK}/x.png --url-only RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "a report without external references was rejected (exit ${rc})")
endif()
set(i 0)
foreach(bad "<img src=\"https://example.invalid/a.png\">" "<link href=\"style.css\">"
            "<style>body{background:url(bg.png)}</style>" "<style>@import 'x.css';</style>"
            "<script src=\"//cdn.invalid/x.js\"></script>")
    math(EXPR i "${i} + 1")
    file(WRITE ${WORK}/bad${i}.html "<html>${bad}</html>")
    execute_process(COMMAND ${PY} ${CHECK} ${WORK}/bad${i}.html ${WORK}/x.png --url-only
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out)
    message(STATUS "${bad}: exit ${rc}: ${out}")
    if(NOT rc EQUAL 1)
        message(FATAL_ERROR "an external reference was not caught: ${bad}")
    endif()
endforeach()
