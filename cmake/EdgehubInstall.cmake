# make install: the two binaries, the systemd unit (its ExecStart= follows the install prefix),
# the sysusers and tmpfiles entries, and the documentation.
include(GNUInstallDirs)

if(TARGET edgehubd)
  install(TARGETS edgehubd edgehubctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

file(READ "${PROJECT_SOURCE_DIR}/systemd/edgehubd.service" edgehub_unit)
string(REPLACE "/usr/bin/edgehubd" "${CMAKE_INSTALL_FULL_BINDIR}/edgehubd" edgehub_unit "${edgehub_unit}")
file(WRITE "${PROJECT_BINARY_DIR}/systemd/edgehubd.service" "${edgehub_unit}")

# Relative destinations: systemd searches <prefix>/lib/{systemd/system,sysusers.d,tmpfiles.d} for
# both /usr and /usr/local.
install(FILES "${PROJECT_BINARY_DIR}/systemd/edgehubd.service" DESTINATION lib/systemd/system)
install(FILES systemd/edgehubd.sysusers.conf DESTINATION lib/sysusers.d RENAME edgehubd.conf)
install(FILES systemd/edgehubd.tmpfiles.conf DESTINATION lib/tmpfiles.d RENAME edgehubd.conf)
install(FILES README.md LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")
