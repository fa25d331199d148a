# IoT Hub naming layer on arbitrary text (issue 6): property bags, topics, filters and user names.
# Decoded bags re-encode to bags that decode to the same properties.
edgehub_fuzzer(fuzz_property_bag
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_property_bag.cpp
  DEPS edgehub::mqtt)
