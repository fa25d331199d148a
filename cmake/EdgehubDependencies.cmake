# Third-party dependencies, all from Debian 12 packages (scripts/install-deps.sh installs them).
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(OpenSSL 3.0 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
find_package(PahoMqttCpp REQUIRED)
find_package(Proton REQUIRED)

if(NOT EDGEHUB_FUZZ)
  find_package(GTest REQUIRED)
  find_package(benchmark QUIET)
endif()

# Asio as a header-only library with its own compiled implementation unit is left to the
# default (separate compilation would need BOOST_ASIO_SEPARATE_COMPILATION in every user).
add_library(edgehub_asio INTERFACE)
target_link_libraries(edgehub_asio INTERFACE Boost::system Threads::Threads)
target_compile_definitions(edgehub_asio INTERFACE BOOST_ASIO_NO_DEPRECATED BOOST_ASIO_DISABLE_BOOST_COROUTINE)
