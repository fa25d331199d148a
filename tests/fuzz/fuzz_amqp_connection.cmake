# AMQP server connection (issue 7) on arbitrary bytes: Proton's frame and SASL decoding, our SASL
# plugin, CBS, link attach authorisation and the message mapping, without sockets. Refusals only,
# never a crash or leak; the output is bounded by what the input asked for.
edgehub_fuzzer(fuzz_amqp_connection
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_amqp_connection.cpp
  DEPS edgehub::amqp_core)
