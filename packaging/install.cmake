# Installation in the FHS layout and the Debian package (cpack -G DEB).
#
#   /usr/bin/cryo-crd, /usr/bin/crd-conformance
#   /usr/share/cryo-crd/{policies,mappings,scenarios}   (cryo_data_dir() in CMakeLists.txt)
#   /etc/cryo-crd/crd.json                              example configuration (a conffile)
#   /usr/lib/systemd/system/cryo-crd.service            the unit (user cryo-crd, hardened)
#   /var/lib/cryo-crd                                   state (the audit store), made by the
#                                                       unit's StateDirectory= and postinst
#
#   cmake -S . -B build -DCMAKE_INSTALL_PREFIX=/usr && cmake --build build
#   (cd build && cpack -G DEB)      # cryo-crd_<version>_<arch>.deb
install(TARGETS cryo-crd crd-conformance RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
        COMPONENT runtime)
install(FILES "${CMAKE_SOURCE_DIR}/packaging/crd.json"
        DESTINATION "${CMAKE_INSTALL_FULL_SYSCONFDIR}/cryo-crd" COMPONENT runtime)
install(FILES "${CMAKE_SOURCE_DIR}/packaging/cryo-crd.service"
        DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" COMPONENT runtime)
install(FILES "${CMAKE_SOURCE_DIR}/README.md" "${CMAKE_SOURCE_DIR}/docs/operations.md"
        DESTINATION "${CMAKE_INSTALL_DOCDIR}" COMPONENT runtime)

set(CPACK_PACKAGE_NAME "cryo-crd")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "Cryo CRD")
set(CPACK_PACKAGE_CONTACT "Cryo CRD maintainers <crd-ops@cryocrd.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Da Vinci CRD (CDS Hooks) coverage requirements discovery service for cryoablation orders")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_GENERATOR "DEB")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Runtime libraries (libssl3, libsqlite3-0, libpq5, libstdc++6, libc6) are found by
# dpkg-shlibdeps; adduser is for the service user made in postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_SOURCE_DIR}/packaging/deb/conffiles;${CMAKE_SOURCE_DIR}/packaging/deb/postinst;${CMAKE_SOURCE_DIR}/packaging/deb/prerm;${CMAKE_SOURCE_DIR}/packaging/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
