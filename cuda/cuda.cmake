# cuda/cuda.cmake: the CUDA part of the addon, included by CMakeLists.txt when STEPRL_CUDA is
#   ON   cuda/*.cu compiled by nvcc: SASS for sm_80/86/89/90 and PTX for sm_90 (so newer GPUs can
#        JIT it), the CUDA runtime linked statically (users need only a driver), and the ptxas
#        report (-Xptxas -v: registers, spills, stack per kernel) printed into the build log;
#   SIM  the same cuda/*.cu compiled as C++ by the host compiler against cuda/sim/ (the SIMT
#        simulator, see cuda/sim/README.md), at -O2 without multiply-add contraction (as nvcc with
#        -fmad=false, which files compared bit for bit with the CPU ask for), no CUDA toolkit needed.
# Both add the device storage glue (native/sources.mjs device-glue) and define
# STEPRL_WITH_CUDA (plus STEPRL_WITH_CUDA_SIM for the simulator), which native/ tests.
file(GLOB STEPRL_CUDA_SOURCES CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/*.cu")
steprl_sources(device-glue STEPRL_DEVICE_GLUE)  # native/sources.mjs

if(STEPRL_CUDA STREQUAL "ON")
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR "STEPRL_CUDA=ON needs nvcc (the CUDA toolkit) on PATH or in CUDACXX; "
                        "without a GPU toolchain use STEPRL_CUDA=SIM (npm run build:cuda-sim)")
  endif()
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    # "90" = SASS and PTX for sm_90; the -real entries are SASS only.
    set(CMAKE_CUDA_ARCHITECTURES "80-real;86-real;89-real;90")
  endif()
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  target_sources(${PROJECT_NAME} PRIVATE ${STEPRL_CUDA_SOURCES} ${STEPRL_DEVICE_GLUE})
  target_compile_definitions(${PROJECT_NAME} PRIVATE STEPRL_WITH_CUDA)
  target_compile_options(${PROJECT_NAME} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3 -Xptxas -v -lineinfo>)
  # A file whose CUDA results are compared with the CPU's bit for bit says so in a line
  # "// steprl-build: -fmad=false": nvcc then fuses no multiply-add of its own (explicit fma() and
  # __fmaf_rn stay), as the simulator's g++ build fuses none (scripts/check-cuda.mjs reads the
  # same line).
  foreach(source ${STEPRL_CUDA_SOURCES})
    file(STRINGS "${source}" steprl_no_fmad REGEX "^// steprl-build: -fmad=false")
    if(steprl_no_fmad)
      set_source_files_properties("${source}" PROPERTIES COMPILE_OPTIONS "-fmad=false")
    endif()
  endforeach()
  # The target exists before this file runs, so its CUDA properties are set on it directly.
  set_target_properties(${PROJECT_NAME} PROPERTIES
    CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}"
    CUDA_STANDARD 17
    CUDA_STANDARD_REQUIRED ON
    CUDA_RUNTIME_LIBRARY Static
    LINKER_LANGUAGE CXX)
  target_link_libraries(${PROJECT_NAME} PRIVATE CUDA::cudart_static)
  message(STATUS "steprl: CUDA kernels for ${CMAKE_CUDA_ARCHITECTURES} with ${CMAKE_CUDA_COMPILER} "
                 "${CMAKE_CUDA_COMPILER_VERSION}, static CUDA runtime")
elseif(STEPRL_CUDA STREQUAL "SIM")
  file(GLOB STEPRL_SIM_SOURCES CONFIGURE_DEPENDS "${CMAKE_CURRENT_LIST_DIR}/sim/*.cc")
  # The .cu files go through cuda/sim/rewrite.mjs first (launch bounds and static shared memory
  # the simulator checks) and compile as C++ (-x c++: LANGUAGE CXX alone does not say so).
  include("${CMAKE_CURRENT_LIST_DIR}/sim/sim.cmake")
  steprl_sim_kernel_sources(${PROJECT_NAME} STEPRL_SIM_KERNEL_SOURCES)
  set_source_files_properties(${STEPRL_SIM_SOURCES} PROPERTIES COMPILE_OPTIONS "-O2")
  target_sources(${PROJECT_NAME} PRIVATE ${STEPRL_SIM_KERNEL_SOURCES} ${STEPRL_SIM_SOURCES} ${STEPRL_DEVICE_GLUE})
  target_compile_definitions(${PROJECT_NAME} PRIVATE STEPRL_WITH_CUDA STEPRL_WITH_CUDA_SIM)
  message(STATUS "steprl: CUDA kernels on the SIMT simulator (cuda/sim), compiled by ${CMAKE_CXX_COMPILER}")
else()
  message(FATAL_ERROR "STEPRL_CUDA must be OFF, ON or SIM, not ${STEPRL_CUDA}")
endif()
