// Runs the `jepa` tool from a doctest case: the tool's path comes from JEPA_TOOL, which the CTest
// cases that run such test cases set (a plain run of the test binary skips them).
#pragma once
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "test_files.hpp"

namespace jepa::test {

struct ToolResult {
  int status;
  std::string errors;  // what the tool wrote to stderr
};

inline ToolResult run_tool(const std::string& arguments) {
  const char* tool = std::getenv("JEPA_TOOL");
  REQUIRE_MESSAGE(tool != nullptr, "set JEPA_TOOL to the jepa executable (the CTest cases that run the tool do)");
  const std::string errors = temp_path("stderr.txt");
  const std::string command = detail::concat("'", tool, "' ", arguments, " > /dev/null 2> '", errors, "'");
  const int status = std::system(command.c_str());
  const Bytes text = read_bytes(errors);
  return {status, std::string(text.begin(), text.end())};
}

}  // namespace jepa::test
