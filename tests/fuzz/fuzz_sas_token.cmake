# SAS token parsing, audience matching and verification on arbitrary bytes: refusals only, never
# a crash; minting and parsing must round-trip.
edgehub_fuzzer(fuzz_sas_token
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_sas_token.cpp
  DEPS edgehub::identity)
