# MQTT 3.1.1 codec and server connection state machine on arbitrary bytes (issue 6): refusals
# only, never a crash; whatever decodes re-encodes to bytes that decode to the same packet, and
# every byte the server sends decodes as a valid packet.
edgehub_fuzzer(fuzz_mqtt_codec
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_mqtt_codec.cpp
  DEPS edgehub::mqtt_proto)
