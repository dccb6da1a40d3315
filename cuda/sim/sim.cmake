# cuda/sim/sim.cmake: the simulator flavour's sources, as g++ must see them.
#
# steprl_sim_kernel_sources(<target> <out-var>) runs cuda/sim/rewrite.mjs (Node) over every
# cuda/*.cu, *.cuh, *.h and cuda/sim/*.h, *.cuh into <build>/sim-src/ (same layout, one command per
# file, rerun when its source changes) and returns the rewritten cuda/*.cu, set up to compile as
# C++ against the simulator (-x c++ -DSTEPRL_CUDA_SIM -O2 -ffp-contract=off). The pass turns
# __launch_bounds__ and static __shared__ into calls the simulator checks (see rewrite.mjs); the
# output keeps the original line numbers and names the original file (#line), and -iquote cuda/
# resolves what lies outside the folder (../include/steprl/*.h). Every header is mirrored, so a
# translation unit never meets both a header and its rewritten copy.
function(steprl_sim_kernel_sources target out_var)
  get_filename_component(cuda_dir "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/.." ABSOLUTE)
  find_program(STEPRL_NODE node REQUIRED)
  file(GLOB inputs CONFIGURE_DEPENDS "${cuda_dir}/*.cu" "${cuda_dir}/*.cuh" "${cuda_dir}/*.h"
       "${cuda_dir}/sim/*.h" "${cuda_dir}/sim/*.cuh")
  set(mirror "${CMAKE_CURRENT_BINARY_DIR}/sim-src")
  set(outputs "")
  set(sources "")
  foreach(input ${inputs})
    file(RELATIVE_PATH relative "${cuda_dir}" "${input}")
    set(output "${mirror}/${relative}")
    add_custom_command(OUTPUT "${output}"
      COMMAND "${STEPRL_NODE}" "${cuda_dir}/sim/rewrite.mjs" "${input}" "${output}"
      DEPENDS "${input}" "${cuda_dir}/sim/rewrite.mjs"
      COMMENT "cuda/sim/rewrite.mjs ${relative}" VERBATIM)
    list(APPEND outputs "${output}")
    if(relative MATCHES "^[^/]*\\.cu$")
      list(APPEND sources "${output}")
    endif()
  endforeach()
  add_custom_target(${target}_sim_sources DEPENDS ${outputs})
  add_dependencies(${target} ${target}_sim_sources)
  set_source_files_properties(${sources} PROPERTIES
    GENERATED TRUE
    LANGUAGE CXX
    COMPILE_DEFINITIONS STEPRL_CUDA_SIM
    COMPILE_OPTIONS "-x;c++;-O2;-ffp-contract=off;-iquote;${cuda_dir}")
  set(${out_var} ${sources} PARENT_SCOPE)
endfunction()
