# SPDX-License-Identifier: Apache-2.0
# Strict warnings as errors for our own code; sanitizer and fuzzer flags.
set(DS_WARNINGS
  -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wformat-security -Wstrict-prototypes
  -Wmissing-prototypes -Wold-style-definition -Wvla -Wpointer-arith -Wcast-qual
  -Wundef -Wwrite-strings -Wimplicit-fallthrough -Wno-unused-parameter)
add_compile_definitions(_GNU_SOURCE)
add_compile_options(-fno-common -fstack-protector-strong)
if(NOT DS_SANITIZE AND NOT DS_FUZZ AND CMAKE_BUILD_TYPE MATCHES "Rel")
  add_compile_definitions(_FORTIFY_SOURCE=2)
endif()

if(DS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined -fno-sanitize-recover=all)
endif()
if(DS_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DS_FUZZ needs clang (cmake -DCMAKE_C_COMPILER=clang-14)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# ds_strict(target): our warnings on a target we own (generated code is exempt).
function(ds_strict tgt)
  target_compile_options(${tgt} PRIVATE ${DS_WARNINGS})
endfunction()
