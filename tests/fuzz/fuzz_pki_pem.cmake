# PEM certificate and key parsing (what [edge_ca], trust_bundle_cert and state_dir files feed in)
# on arbitrary bytes: refusals with an error code, never a crash or a leak.
edgehub_fuzzer(fuzz_pki_pem
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_pki_pem.cpp
  DEPS edgehub::pki OpenSSL::Crypto)
