#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "edgehub/routing/condition.hpp"
#include "edgehub/routing/errors.hpp"
#include "routing/lexer.hpp"
#include "routing/program.hpp"

namespace edgehub::routing::detail {

/// Parses and type-checks one condition expression starting at tokens[pos]; on success `pos` is
/// the first token after it (which the caller checks: end of text, or INTO in a route).
/// `text` is the whole source the tokens came from; columns in errors are relative to it.
std::unique_ptr<Program> compile_expression(std::string_view text, const std::vector<Token>& tokens,
                                            std::size_t& pos, const CompileOptions& options,
                                            CompileError& error);

/// A program whose value is the undefined literal (the empty condition).
std::unique_ptr<Program> undefined_program(std::string_view text);

void set_error(CompileError& error, RoutingErrc code, std::string_view text, std::size_t offset,
               std::string message);

}  // namespace edgehub::routing::detail
