# make install (and the .deb, which CPack builds from the same rules): the two binaries, the
# systemd unit (its ExecStart= follows the install prefix), the sysusers and tmpfiles entries,
# the configuration template, the bash completion and the documentation.
include(GNUInstallDirs)

if(TARGET edgehubd)
  install(TARGETS edgehubd edgehubctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# The unit names the binary by absolute path. The prefix is read when the install runs, not
# when CMake configures, because CPack installs with its own prefix (/usr) whatever the build's.
install(CODE "
  file(READ \"${PROJECT_SOURCE_DIR}/systemd/edgehubd.service\" edgehub_unit)
  string(REPLACE \"/usr/bin/edgehubd\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/edgehubd\"
         edgehub_unit \"\${edgehub_unit}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/systemd/edgehubd.service\" \"\${edgehub_unit}\")
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES \"${PROJECT_BINARY_DIR}/systemd/edgehubd.service\")
")

# Relative destinations: systemd searches <prefix>/lib/{systemd/system,sysusers.d,tmpfiles.d} for
# both /usr and /usr/local.
install(FILES systemd/edgehubd.sysusers.conf DESTINATION lib/sysusers.d RENAME edgehubd.conf)
install(FILES systemd/edgehubd.tmpfiles.conf DESTINATION lib/tmpfiles.d RENAME edgehubd.conf)
install(FILES packaging/edgehubctl.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME edgehubctl)
# Next to the aziot config it documents, whatever the prefix: /etc/aziot is IoT Edge's fixed place.
install(FILES packaging/config.toml.edgehubd.template DESTINATION /etc/aziot
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES README.md LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} FILES_MATCHING PATTERN "*.md")
