# Project-wide build conventions: warnings, sanitizers, and one function per kind of target so
# that module, test and fuzzer CMakeLists files stay a few lines each.

add_library(edgehub_build_flags INTERFACE)
# -Wnon-virtual-dtor is left out: Boost 1.74's error_category (the base of every module's error
# category) has a protected non-virtual destructor, which that warning rejects.
target_compile_options(edgehub_build_flags INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                       -Wcast-align -Wunused -Woverloaded-virtual
                       $<$<BOOL:${EDGEHUB_WERROR}>:-Werror>)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports false positives inside Asio/Beast (awaitable frame allocation) and std::variant
  # at -O2.
  target_compile_options(edgehub_build_flags INTERFACE -Wno-maybe-uninitialized -Wno-array-bounds
                         -Wno-stringop-overflow -Wno-restrict -Wno-mismatched-new-delete)
endif()

if(EDGEHUB_SANITIZE)
  list(JOIN EDGEHUB_SANITIZE "," edgehub_sanitizers)
  add_compile_options(-fsanitize=${edgehub_sanitizers} -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${edgehub_sanitizers})
endif()

if(EDGEHUB_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "EDGEHUB_FUZZ needs clang (CXX=clang++-14)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# edgehub_module(<name> SOURCES ... [DEPS ...] [PRIVATE_DEPS ...])
# A static library edgehub_<name> with public headers in include/edgehub/<name>/ and private
# code in src/<name>/. DEPS are public (appear in its headers), PRIVATE_DEPS are not.
function(edgehub_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(edgehub_${name} STATIC ${ARG_SOURCES})
  add_library(edgehub::${name} ALIAS edgehub_${name})
  target_include_directories(edgehub_${name}
    PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(edgehub_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS} edgehub_build_flags)
endfunction()

# edgehub_executable(<name> SOURCES ... [DEPS ...])
function(edgehub_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} edgehub_build_flags)
endfunction()

# edgehub_test(<name> TIER unit|component|integration SOURCES ... [DEPS ...] [TIMEOUT s])
# A GoogleTest binary; each TEST becomes a ctest entry labelled with its tier, discovered when
# ctest runs (not at build time, so a sanitizer build does not run tests while compiling).
function(edgehub_test name)
  cmake_parse_arguments(ARG "" "TIER;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_TIER)
    message(FATAL_ERROR "edgehub_test(${name}) needs TIER unit|component|integration")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main
                        edgehub_build_flags)
  target_compile_definitions(${name} PRIVATE
    EDGEHUB_SOURCE_DIR="${PROJECT_SOURCE_DIR}" EDGEHUB_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS ${ARG_TIER} TIMEOUT ${ARG_TIMEOUT})
endfunction()

# edgehub_fuzzer(<name> SOURCES ... [DEPS ...] [SECONDS n])
# A libFuzzer binary run by ctest for SECONDS over its committed seed corpus in
# tests/fuzz/corpus/<name>/ (new inputs go to a scratch copy in the build tree).
function(edgehub_fuzzer name)
  cmake_parse_arguments(ARG "" "SECONDS" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_SECONDS)
    set(ARG_SECONDS 20)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} edgehub_build_flags)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set(seeds "${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name}")
  set(scratch "${CMAKE_CURRENT_BINARY_DIR}/corpus/${name}")
  add_test(NAME ${name}
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
            ${PROJECT_SOURCE_DIR}/tests/fuzz/run-fuzzer.sh $<TARGET_FILE:${name}> ${seeds} ${scratch}
            ${ARG_SECONDS})
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 600)
  set_property(GLOBAL APPEND PROPERTY EDGEHUB_FUZZERS ${name})
endfunction()

include(GoogleTest OPTIONAL)
