# Route language: lexer, parser, type checker and evaluator on arbitrary text (issue 4).
edgehub_fuzzer(fuzz_route_parser
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_route_parser.cpp
  DEPS edgehub::routing)
