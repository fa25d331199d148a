# The store's message encoding (bodies.data) on arbitrary bytes: a damaged body must be refused
# with Errc::corrupt, never crash; whatever decodes re-encodes to bytes that decode the same.
edgehub_fuzzer(fuzz_store_codec
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_store_codec.cpp
  DEPS edgehub::store)
