# Warnings are errors in our own code (never applied to third-party headers, which are
# included as SYSTEM).
function(sb_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
endfunction()
