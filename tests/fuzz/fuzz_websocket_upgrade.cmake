# Port 443's WebSocket upgrade without sockets: Beast's request parser, our upgrade decision
# (path, Sec-WebSocket-Protocol), then Beast's WebSocket handshake and frame reader over an
# in-memory stream with the listener's options. Clear refusals only, never a crash.
edgehub_fuzzer(fuzz_websocket_upgrade
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_websocket_upgrade.cpp
          ${PROJECT_SOURCE_DIR}/src/net/websocket_upgrade.cpp
  DEPS edgehub::core edgehub_asio)
