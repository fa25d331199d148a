# The device connection-string parser on arbitrary text (issue 12): refusals only, never a crash;
# whatever it accepts is a usable identity and re-serialises to a string that parses the same.
edgehub_fuzzer(fuzz_connection_string
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_connection_string.cpp
  DEPS edgehub::config
  SECONDS 10)
