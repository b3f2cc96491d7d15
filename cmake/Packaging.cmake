# Install layout of what is not a build target (default config, env example, systemd unit)
# and the Debian package: `cpack -G DEB` in a build tree → switchboard_<version>_amd64.deb.

# The config and the unit name installed paths, so they are written when the prefix is
# known: at install time (see cmake/InstallServiceFiles.cmake.in).
configure_file(${CMAKE_CURRENT_LIST_DIR}/InstallServiceFiles.cmake.in
  ${CMAKE_BINARY_DIR}/InstallServiceFiles.cmake @ONLY)
install(SCRIPT ${CMAKE_BINARY_DIR}/InstallServiceFiles.cmake)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME switchboard)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Switchboard")
set(CPACK_PACKAGE_CONTACT "Switchboard maintainers <maintainers@switchboard.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Customer messaging for support teams (Telegram, WhatsApp, Messenger, Instagram)")
set(CPACK_PACKAGE_DESCRIPTION
  "switchboardd receives customer messages as platform webhooks, stores them durably and\npushes them to support agents over WebSocket; agents answer over a REST API.\nIncludes switchboardctl, the channel plugins and the plugin SDK headers.")

# Installed as DESTDIR=<staging> with prefix /usr, so the install script sees /usr and puts
# the configuration into /etc (FHS) and the unit into /usr/lib/systemd/system.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # switchboard_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # library dependencies from dpkg-shlibdeps
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")  # postinst creates the system user with it
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")

# /etc/switchboard/* are conffiles: an upgrade keeps the operator's edits (dpkg asks).
file(WRITE ${CMAKE_BINARY_DIR}/debian/conffiles
  "/etc/switchboard/switchboard.yaml\n/etc/switchboard/switchboard.env.example\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_BINARY_DIR}/debian/conffiles
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

include(CPack)
