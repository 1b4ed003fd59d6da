# Install-time part of `cmake --install` (included from the top-level CMakeLists.txt through
# install(SCRIPT)): the files whose *contents* or *place* depend on the install prefix.
#
# They are resolved here, when the prefix is known for sure, not at configure time: one build
# directory serves both `cmake --install build` (prefix /usr/local: /usr/local/bin/octofleet,
# /usr/local/etc/octofleet) and `cpack -G DEB` (prefix /usr: /usr/bin/octofleet, /etc/octofleet),
# and configure-time paths would put the wrong ones into the .deb's units.
#
# Set before this runs (install(CODE) in CMakeLists.txt): OF_SOURCE_DIR, OF_BINARY_DIR and the
# GNUInstallDirs values OF_INSTALL_BINDIR, OF_INSTALL_SYSCONFDIR, OF_INSTALL_DOCDIR (relative or
# absolute, as configured), OF_SYSTEMD_UNITDIR, OF_SYSUSERSDIR (relative to the prefix unless
# absolute). file(INSTALL) adds $DESTDIR itself and records the install manifest.

# GNUInstallDirs' rule, applied to the prefix of this install: absolute stays, relative is
# under the prefix, and etc of the prefixes / and /usr is /etc.
function(of_full_dir out dir kind)
  if(IS_ABSOLUTE "${dir}")
    set(full "${dir}")
  elseif(kind STREQUAL "sysconf" AND dir STREQUAL "etc"
         AND (CMAKE_INSTALL_PREFIX STREQUAL "/usr" OR CMAKE_INSTALL_PREFIX STREQUAL "/"))
    set(full "/etc")
  else()
    set(full "${CMAKE_INSTALL_PREFIX}/${dir}")
  endif()
  string(REGEX REPLACE "//+" "/" full "${full}")
  set(${out} "${full}" PARENT_SCOPE)
endfunction()

of_full_dir(OF_BINDIR "${OF_INSTALL_BINDIR}" plain)
of_full_dir(OF_SYSCONFDIR "${OF_INSTALL_SYSCONFDIR}" sysconf)
of_full_dir(OF_DOCDIR "${OF_INSTALL_DOCDIR}" plain)
of_full_dir(OF_UNITDIR "${OF_SYSTEMD_UNITDIR}" plain)
of_full_dir(OF_SYSUSERS "${OF_SYSUSERSDIR}" plain)
set(OF_CONFDIR "${OF_SYSCONFDIR}/octofleet")

# The example configuration: the operator copies it to octofleet.cfg; the real file is never
# installed (an upgrade must not overwrite it).
file(INSTALL DESTINATION "${OF_CONFDIR}" TYPE FILE
     FILES "${OF_SOURCE_DIR}/config/octofleet.cfg.example")

# The systemd units, with this install's paths.
string(MAKE_C_IDENTIFIER "${CMAKE_INSTALL_PREFIX}" prefix_id)
set(stage "${OF_BINARY_DIR}/deploy/units${prefix_id}")
file(GLOB templates "${OF_SOURCE_DIR}/deploy/systemd/*.service.in")
set(units "")
foreach(t IN LISTS templates)
  get_filename_component(name "${t}" NAME)
  string(REGEX REPLACE "\\.in$" "" name "${name}")
  configure_file("${t}" "${stage}/${name}" @ONLY)
  list(APPEND units "${stage}/${name}")
endforeach()
file(INSTALL DESTINATION "${OF_UNITDIR}" TYPE FILE FILES ${units})

# The octofleet system user and group (systemd-sysusers; the .deb's postinst applies it).
file(INSTALL DESTINATION "${OF_SYSUSERS}" TYPE FILE
     FILES "${OF_SOURCE_DIR}/deploy/sysusers/octofleet.conf")

message(STATUS "octofleet: units run ${OF_BINDIR}/octofleet with ${OF_CONFDIR}/octofleet.cfg")
