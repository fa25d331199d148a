# The identities file parser on arbitrary bytes: issues with lines, never a crash or an escaping
# exception.
edgehub_fuzzer(fuzz_identities
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_identities.cpp
  DEPS edgehub::identity)
