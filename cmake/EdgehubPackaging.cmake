# make package: a Debian package of what `make install` installs (cmake/EdgehubInstall.cmake),
# built by CPack's DEB generator. Always for prefix /usr, whatever CMAKE_INSTALL_PREFIX the build
# uses; dependencies come from the binaries' shared libraries (dpkg-shlibdeps, from dpkg-dev).
# The maintainer scripts in packaging/ create the edgehubd account and directories.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME edgehubd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "edgehubd")
set(CPACK_PACKAGE_CONTACT "edgehubd maintainers <edgehubd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "transparent gateway for Azure IoT Hub (a native edgeHub for the gateway role)")
set(CPACK_PACKAGE_DESCRIPTION
    "edgehubd accepts downstream devices over MQTT, AMQP and HTTPS/WebSockets, routes their \
messages with edgeHub's route language, stores them durably and forwards them to IoT Hub.")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")

# Absolute install destinations (/etc/aziot) need DESTDIR staging; the prefix is /usr.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Not a shared library, but what the maintainer scripts run.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/postinst" "${PROJECT_SOURCE_DIR}/packaging/prerm"
    "${PROJECT_SOURCE_DIR}/packaging/postrm" "${PROJECT_SOURCE_DIR}/packaging/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
