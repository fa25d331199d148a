# The config loader on arbitrary bytes: it must report issues, never crash or throw.
edgehub_fuzzer(fuzz_config
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.cpp
  DEPS edgehub::config)
