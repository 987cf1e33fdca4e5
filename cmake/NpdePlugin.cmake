# npde_add_plugin(NAME SOURCES src.c ... [LIBRARIES lib ...] [OUTPUT_DIRECTORY dir] [NO_INSTALL])
#
# Builds an npde plugin: a MODULE library named npde_<NAME>.so that includes
# only the npde headers (plugins call the core through the host table and
# never link libnpde), with hidden visibility so only npde_plugin_entry is
# exported. Installed into the npde plugin directory unless NO_INSTALL.
# Shipped with the SDK (find_package(npde)) for out-of-tree plugins.
function(npde_add_plugin name)
  cmake_parse_arguments(P "NO_INSTALL" "OUTPUT_DIRECTORY;INSTALL_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  set(target npde_plugin_${name})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX "" OUTPUT_NAME "npde_${name}"
    C_STANDARD 11 C_STANDARD_REQUIRED ON
    C_VISIBILITY_PRESET hidden POSITION_INDEPENDENT_CODE ON)
  if(TARGET npde_headers)
    target_link_libraries(${target} PRIVATE npde_headers)
  else()
    target_link_libraries(${target} PRIVATE npde::headers)
  endif()
  if(P_LIBRARIES)
    target_link_libraries(${target} PRIVATE ${P_LIBRARIES})
  endif()
  if(P_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIRECTORY})
  elseif(DEFINED NPDE_PLUGIN_BUILD_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${NPDE_PLUGIN_BUILD_DIR})
  endif()
  if(NOT P_NO_INSTALL)
    if(P_INSTALL_DIRECTORY)
      set(dest ${P_INSTALL_DIRECTORY})
    elseif(DEFINED NPDE_PLUGIN_INSTALL_SUBDIR)
      set(dest ${NPDE_PLUGIN_INSTALL_SUBDIR})
    else()
      set(dest ${NPDE_PLUGIN_DIR})
    endif()
    install(TARGETS ${target} LIBRARY DESTINATION ${dest})
  endif()
endfunction()
