# install.cmake - what `make install` and the Debian package put where:
# the three tools, liblic (static library, headers, liblic.pc), man pages made
# from the tools' own --help, the systemd unit and the default config file
# made by `licsrv serve --print-config`.
include(GNUInstallDirs)

install(TARGETS licgen licctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS lic ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY common/include/lic DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
get_filename_component(LIC_HTTP_PARSER_NAME "${HTTP_PARSER_LIB}" NAME_WE)
string(REGEX REPLACE "^lib" "-l" LIC_PC_HTTP_PARSER "${LIC_HTTP_PARSER_NAME}")
configure_file(packaging/liblic.pc.in ${CMAKE_BINARY_DIR}/liblic.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/liblic.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES docs/examples/designer_check.c DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

if(TARGET licsrv)
  install(TARGETS licsrv RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  # /etc/licsrv/licsrv.conf (GNUInstallDirs: /etc for the /usr prefix).
  set(LIC_CONF_FILE ${CMAKE_INSTALL_FULL_SYSCONFDIR}/licsrv/licsrv.conf)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/licsrv.conf
    COMMAND $<TARGET_FILE:licsrv> serve --print-config > ${CMAKE_BINARY_DIR}/licsrv.conf.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${CMAKE_BINARY_DIR}/licsrv.conf.tmp ${CMAKE_BINARY_DIR}/licsrv.conf
    DEPENDS licsrv COMMENT "licsrv.conf from licsrv serve --print-config")
  add_custom_target(licsrv_conf ALL DEPENDS ${CMAKE_BINARY_DIR}/licsrv.conf)
  install(FILES ${CMAKE_BINARY_DIR}/licsrv.conf DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/licsrv)
  configure_file(packaging/licsrv.service.in ${CMAKE_BINARY_DIR}/licsrv.service @ONLY)
  # lib/systemd/system below the prefix; Debian 12 packages use /lib/systemd/system.
  set(LIC_SYSTEMD_UNITDIR lib/systemd/system CACHE STRING "where the systemd unit goes")
  install(FILES ${CMAKE_BINARY_DIR}/licsrv.service DESTINATION ${LIC_SYSTEMD_UNITDIR})
endif()

find_program(HELP2MAN help2man)
if(HELP2MAN)
  set(LIC_MANS "")
  foreach(t licgen licctl licsrv)
    if(NOT TARGET ${t})
      continue()
    endif()
    if(t STREQUAL "licgen")
      set(desc "sign licenses and issue designer activation codes")
    elseif(t STREQUAL "licctl")
      set(desc "registration and license checks for report servers and designers")
    else()
      set(desc "the license server: data directory, store, verify and admin APIs")
    endif()
    add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${t}.1
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND sh ${CMAKE_SOURCE_DIR}/packaging/man.sh $<TARGET_FILE:${t}> ${t} ${desc}
              ${CMAKE_BINARY_DIR}/man/${t}.1
      DEPENDS ${t} ${CMAKE_SOURCE_DIR}/packaging/man.sh
      COMMENT "man page ${t}.1 from ${t} --help" VERBATIM)
    list(APPEND LIC_MANS ${CMAKE_BINARY_DIR}/man/${t}.1)
  endforeach()
  add_custom_target(man ALL DEPENDS ${LIC_MANS})
  install(FILES ${LIC_MANS} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  message(STATUS "help2man not found: no man pages (make deps installs it)")
endif()
