# Qpid Proton C and C++ as Debian 12 packages them (libqpid-proton11-dev, libqpid-proton-cpp12-dev).
# Debian ships neither a pkg-config file nor an unversioned .so link for the core library, so the
# core is linked by its soname: -lqpid-proton-cpp -l:libqpid-proton-core.so.10 loads one copy of it.
find_path(Proton_INCLUDE_DIR NAMES proton/connection_driver.h)
find_library(Proton_CPP_LIBRARY NAMES qpid-proton-cpp)
find_file(Proton_CORE_LIBRARY NAMES libqpid-proton-core.so.10 libqpid-proton-core.so
          PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /usr/lib /usr/local/lib)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Proton REQUIRED_VARS Proton_INCLUDE_DIR Proton_CPP_LIBRARY Proton_CORE_LIBRARY)

if(Proton_FOUND AND NOT TARGET Proton::core)
  add_library(Proton::core UNKNOWN IMPORTED)
  set_target_properties(Proton::core PROPERTIES IMPORTED_LOCATION "${Proton_CORE_LIBRARY}"
                                                INTERFACE_INCLUDE_DIRECTORIES "${Proton_INCLUDE_DIR}")
  add_library(Proton::cpp UNKNOWN IMPORTED)
  set_target_properties(Proton::cpp PROPERTIES IMPORTED_LOCATION "${Proton_CPP_LIBRARY}"
                                               INTERFACE_INCLUDE_DIRECTORIES "${Proton_INCLUDE_DIR}"
                                               INTERFACE_LINK_LIBRARIES Proton::core)
endif()
