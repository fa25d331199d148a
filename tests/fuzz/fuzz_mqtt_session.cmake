# The MQTT session's decisions without sockets (issue 12): ServerConnection on arbitrary bytes with
# every delivered CONNECT, PUBLISH and SUBSCRIBE decided by the naming layer as mqtt::Session does.
# An identity never gets authorised outside its own space; nothing follows Close.
edgehub_fuzzer(fuzz_mqtt_session
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_mqtt_session.cpp
  DEPS edgehub::mqtt edgehub::mqtt_proto
  SECONDS 10)
