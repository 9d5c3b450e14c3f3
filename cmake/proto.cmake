# SPDX-License-Identifier: Apache-2.0
# ds_protobuf_c(OUT_SRCS OUT_HDRS DIR files...): run protoc-c at build time into the build tree.
# Files are given relative to DIR; imports resolve against DIR and the system proto include.
set(DS_PROTO_SYSTEM_INCLUDE "/usr/include" CACHE PATH "Where google/protobuf/*.proto live")

function(ds_protobuf_c out_srcs out_hdrs dir)
  set(srcs)
  set(hdrs)
  foreach(rel ${ARGN})
    get_filename_component(base ${rel} NAME_WE)
    get_filename_component(sub ${rel} DIRECTORY)
    if(sub)
      set(outdir ${CMAKE_CURRENT_BINARY_DIR}/${sub})
      set(stem ${sub}/${base})
    else()
      set(outdir ${CMAKE_CURRENT_BINARY_DIR})
      set(stem ${base})
    endif()
    if(EXISTS ${dir}/${rel})
      set(absin ${dir}/${rel})
      set(incdir ${dir})
    else()
      set(absin ${DS_PROTO_SYSTEM_INCLUDE}/${rel})
      set(incdir ${DS_PROTO_SYSTEM_INCLUDE})
    endif()
    set(c ${CMAKE_CURRENT_BINARY_DIR}/${stem}.pb-c.c)
    set(h ${CMAKE_CURRENT_BINARY_DIR}/${stem}.pb-c.h)
    add_custom_command(
      OUTPUT ${c} ${h}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
      COMMAND ${PROTOC_C} -I${dir} -I${DS_PROTO_SYSTEM_INCLUDE} --c_out=${CMAKE_CURRENT_BINARY_DIR} ${absin}
      DEPENDS ${absin}
      COMMENT "protoc-c ${rel}"
      VERBATIM)
    list(APPEND srcs ${c})
    list(APPEND hdrs ${h})
  endforeach()
  set(${out_srcs} ${srcs} PARENT_SCOPE)
  set(${out_hdrs} ${hdrs} PARENT_SCOPE)
endfunction()
