# The HTTPS API's request handling without sockets: Beast's parser over arbitrary bytes, then the
# route match, the header -> message mapping, batch, method and scope bodies. Clear refusals
# only, never a crash.
edgehub_fuzzer(fuzz_http_request
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_http_request.cpp
  DEPS edgehub::http edgehub_asio)
