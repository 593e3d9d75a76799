# imagen_module(NAME DEPS ...) — one static library per src/ folder.
#
# A module's headers are reachable as "NAME/header.h" only by targets that link
# the module: each module gets a private include root containing a single link
# NAME -> src/NAME. An #include of a module that is not declared in DEPS
# therefore fails to compile (see the layering test in tests/CMakeLists.txt).
#
# Sources are the folder's *.cc files except *_test.cc and *_main.cc; the
# *_test.cc files become one GoogleTest binary, NAME_tests, labelled "unit".
function(imagen_module name)
  cmake_parse_arguments(ARG "" "" "DEPS;TEST_DEPS;EXCLUDE" ${ARGN})
  set(dir ${CMAKE_CURRENT_SOURCE_DIR})
  set(root ${CMAKE_BINARY_DIR}/include_roots/${name})
  file(MAKE_DIRECTORY ${root})
  file(CREATE_LINK ${dir} ${root}/${name} SYMBOLIC)

  file(GLOB srcs CONFIGURE_DEPENDS ${dir}/*.cc)
  file(GLOB tests CONFIGURE_DEPENDS ${dir}/*_test.cc)
  list(FILTER srcs EXCLUDE REGEX "(_test|_main)\\.cc$")
  foreach(ex ${ARG_EXCLUDE})
    list(FILTER srcs EXCLUDE REGEX "/${ex}$")
  endforeach()

  set(target imagen_${name})
  if(srcs)
    add_library(${target} STATIC ${srcs})
    target_include_directories(${target} PUBLIC ${root})
    target_link_libraries(${target} PUBLIC imagen_flags ${ARG_DEPS})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${root})
    target_link_libraries(${target} INTERFACE imagen_flags ${ARG_DEPS})
  endif()
  add_library(imagen::${name} ALIAS ${target})

  if(tests)
    add_executable(${name}_tests ${tests})
    target_link_libraries(${name}_tests PRIVATE ${target} ${ARG_TEST_DEPS} GTest::gmock GTest::gtest_main)
    gtest_discover_tests(${name}_tests PROPERTIES LABELS unit DISCOVERY_TIMEOUT 60)
    set_property(GLOBAL APPEND PROPERTY IMAGEN_UNIT_TEST_TARGETS ${name}_tests)
  endif()
endfunction()
