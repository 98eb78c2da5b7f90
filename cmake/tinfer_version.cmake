# The version is written once, in include/tinfer/tinfer.h (TINFER_VERSION_MAJOR/MINOR/PATCH), so
# the header compiles on its own from the source tree. This reads it into TINFER_VERSION for
# project(), which gives the shared library's file name and SONAME, tinfer.pc's Version and
# tinferConfigVersion.cmake; and it refuses to configure when the Python package
# (bindings/python/src/tinfer/_version.py, which pyproject.toml reads) says another version.
file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/../include/tinfer/tinfer.h" _tinfer_version_lines
     REGEX "^#define TINFER_VERSION_(MAJOR|MINOR|PATCH) +[0-9]+$")
foreach(_part MAJOR MINOR PATCH)
  set(_tinfer_version_${_part} "")
  foreach(_line ${_tinfer_version_lines})
    if(_line MATCHES "^#define TINFER_VERSION_${_part} +([0-9]+)$")
      set(_tinfer_version_${_part} "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  if(_tinfer_version_${_part} STREQUAL "")
    message(FATAL_ERROR "include/tinfer/tinfer.h: no '#define TINFER_VERSION_${_part} <number>'")
  endif()
endforeach()
set(TINFER_VERSION "${_tinfer_version_MAJOR}.${_tinfer_version_MINOR}.${_tinfer_version_PATCH}")

file(STRINGS "${CMAKE_CURRENT_LIST_DIR}/../bindings/python/src/tinfer/_version.py"
     _tinfer_python_version REGEX "^__version__ = ")
if(NOT _tinfer_python_version STREQUAL "__version__ = \"${TINFER_VERSION}\"")
  message(FATAL_ERROR "bindings/python/src/tinfer/_version.py says '${_tinfer_python_version}' "
                      "but include/tinfer/tinfer.h says ${TINFER_VERSION}: make them agree")
endif()
