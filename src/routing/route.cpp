#include <algorithm>

#include "edgehub/routing/route_table.hpp"
#include "routing/compiler.hpp"
#include "routing/lexer.hpp"
#include "routing/text.hpp"

namespace edgehub::routing {
namespace {

using core::iequals;
using detail::Tok;
using detail::Token;

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const std::size_t j = path.find('/', i);
    const std::size_t end = j == std::string_view::npos ? path.size() : j;
    out.emplace_back(path.substr(i, end - i));
    i = end;
  }
  return out;
}

// The sources edgeHub knows (reference §3.3), after trailing '*' and '/' are stripped.
bool valid_source(const std::vector<std::string>& s) {
  if (s.empty()) return true;  // FROM /*
  if (s.size() == 1 && iequals(s[0], "twinChangeNotifications")) return true;
  if (!iequals(s[0], "messages")) return false;
  if (s.size() >= 2 && !iequals(s[1], "modules")) return false;
  if (s.size() >= 4 && !iequals(s[3], "outputs")) return false;
  return s.size() <= 5;
}

}  // namespace

std::string queue_name(std::string_view endpoint_id, std::uint32_t priority) {
  std::string name(endpoint_id);
  if (priority != kDefaultPriority) name += "_Pri" + std::to_string(priority);
  return name;
}

core::Result<Route> Route::compile(std::string_view text, std::string_view edge_device_id,
                                   CompileError* error) {
  CompileError local;
  CompileError& err = error != nullptr ? *error : local;
  auto fail = [&](RoutingErrc code, std::size_t offset, std::string message) {
    detail::set_error(err, code, text, offset, std::move(message));
    return core::Result<Route>(make_error_code(code));
  };
  const std::vector<Token> tokens = detail::lex(text);
  std::size_t pos = 0;
  auto peek = [&]() -> const Token& { return tokens[pos]; };
  auto take = [&]() -> const Token& {
    const Token& t = tokens[pos];
    if (t.kind != Tok::end) ++pos;
    return t;
  };

  if (peek().kind == Tok::end) return fail(RoutingErrc::syntax_error, 0, "the route is empty");
  if (peek().kind == Tok::kw_select) {
    take();
    if (peek().kind != Tok::mul) {
      return fail(RoutingErrc::syntax_error, peek().offset,
                  "expected '*' after SELECT, found " + detail::describe(peek()));
    }
    take();
  }
  if (peek().kind != Tok::kw_from) {
    return fail(RoutingErrc::syntax_error, peek().offset,
                "a route starts with FROM <source> (optionally SELECT * FROM), found " +
                    detail::describe(peek()));
  }
  take();

  // <path> = ('/' ('*' | identifier))+
  Route route;
  std::string raw_source;
  const std::size_t source_offset = peek().offset;
  if (peek().kind != Tok::div) {
    return fail(
        RoutingErrc::syntax_error, peek().offset,
        "expected a source path such as /messages/* after FROM, found " + detail::describe(peek()));
  }
  while (peek().kind == Tok::div) {
    take();
    const Token& item = peek();
    if (item.kind != Tok::mul && item.kind != Tok::id) {
      return fail(RoutingErrc::syntax_error, item.offset,
                  "expected a path segment or '*' after '/', found " + detail::describe(item));
    }
    take();
    raw_source += '/';
    raw_source += item.text;
  }
  std::string source = raw_source;
  while (!source.empty() && (source.back() == '*' || source.back() == '/'))
    source.pop_back();
  route.source_segments_ = split_path(source);
  for (const auto& seg : route.source_segments_) {
    if (seg.find('*') != std::string::npos) {
      return fail(RoutingErrc::bad_source, source_offset,
                  "'*' is only allowed at the end of a source path, in '" + raw_source + "'");
    }
  }
  if (!valid_source(route.source_segments_)) {
    return fail(RoutingErrc::bad_source, source_offset,
                "unsupported source '" + raw_source +
                    "' (use /*, /messages/*, /messages/modules/<module>/*, "
                    "/messages/modules/<module>/outputs/<output> or /twinChangeNotifications)");
  }
  route.source_ = source;

  if (peek().kind == Tok::kw_where) {
    const Token& where = take();
    if (peek().kind == Tok::kw_into || peek().kind == Tok::end) {
      return fail(RoutingErrc::syntax_error, where.offset, "expected a condition after WHERE");
    }
    CompileOptions options;
    options.twin_change_source = route.source_segments_.size() == 1 &&
                                 iequals(route.source_segments_[0], "twinChangeNotifications");
    auto program = detail::compile_expression(text, tokens, pos, options, err);
    if (!program) return make_error_code(err.code);
    route.condition_.emplace(detail::Program::make_condition(std::move(program)));
  }

  if (peek().kind != Tok::kw_into) {
    return fail(RoutingErrc::syntax_error, peek().offset,
                "expected INTO <endpoint>, found " + detail::describe(peek()) +
                    (route.condition_ ? " (missing AND/OR or operator in the condition?)" : ""));
  }
  take();

  const Token& sink = peek();
  const std::string hint =
      " (edgeHub knows $upstream and BrokeredEndpoint(\"/modules/<module>/inputs/<input>\"))";
  if (sink.kind == Tok::sys_prop) {
    take();
    if (!iequals(sink.text.substr(1), "upstream")) {
      return fail(RoutingErrc::bad_sink, sink.offset,
                  "unknown endpoint '" + std::string(sink.text) + "'" + hint);
    }
    route.endpoint_.kind = EndpointKind::upstream;
    route.endpoint_.id = std::string(kUpstreamEndpointId);
  } else if (sink.kind == Tok::id && tokens[pos + 1].kind == Tok::lparen) {
    if (!iequals(sink.text, "BrokeredEndpoint")) {
      return fail(RoutingErrc::bad_sink, sink.offset,
                  "unknown endpoint function '" + std::string(sink.text) + "'" + hint);
    }
    take();
    take();  // '('
    const Token& arg = peek();
    if (arg.kind != Tok::string) {
      return fail(RoutingErrc::syntax_error, arg.offset,
                  "BrokeredEndpoint needs a quoted path such as \"/modules/filter/inputs/in1\", "
                  "found " +
                      detail::describe(arg));
    }
    take();
    if (peek().kind != Tok::rparen) {
      return fail(
          RoutingErrc::syntax_error, peek().offset,
          "expected ')' after the BrokeredEndpoint path, found " + detail::describe(peek()));
    }
    take();
    const std::string path = detail::unescape_literal(arg.text.substr(1, arg.text.size() - 2));
    // Exactly "/modules/{m}/inputs/{i}" (EndpointFactory): four non-empty segments.
    std::vector<std::string> parts;
    std::size_t i = 0;
    bool well_formed = !path.empty() && path[0] == '/';
    while (well_formed && i < path.size()) {
      const std::size_t j = path.find('/', i + 1);
      const std::size_t end = j == std::string::npos ? path.size() : j;
      parts.push_back(path.substr(i + 1, end - i - 1));
      i = end;
    }
    well_formed = well_formed && parts.size() == 4 && iequals(parts[0], "modules") &&
                  iequals(parts[2], "inputs") && !parts[1].empty() && !parts[3].empty();
    if (!well_formed) {
      return fail(RoutingErrc::bad_sink, arg.offset,
                  "BrokeredEndpoint path must be \"/modules/<module>/inputs/<input>\", got \"" +
                      path + "\"");
    }
    route.endpoint_.kind = EndpointKind::module_input;
    route.endpoint_.module_id = parts[1];
    route.endpoint_.input_name = parts[3];
    route.endpoint_.id = std::string(edge_device_id) + "/" + parts[1] + "/" + parts[3];
  } else {
    return fail(RoutingErrc::syntax_error, sink.offset,
                "expected an endpoint after INTO, found " + detail::describe(sink) + hint);
  }
  if (peek().kind != Tok::end) {
    return fail(RoutingErrc::syntax_error, peek().offset,
                "unexpected " + detail::describe(peek()) + " after the endpoint");
  }
  route.text_ = std::string(text);
  return route;
}

bool Route::source_matches(const core::Message& message) const noexcept {
  const auto& segs = source_segments_;
  if (segs.empty()) return true;
  if (message.kind == core::MessageKind::twin_change_notification) {
    return segs.size() == 1 && iequals(segs[0], "twinChangeNotifications");
  }
  if (!iequals(segs[0], "messages")) return false;
  if (segs.size() == 1) return true;
  const auto& module = message.sys_prop(core::SystemProperty::connection_module_id);
  if (!module || module->empty()) return false;  // "/messages" has no deeper segments
  // segs[1] is "modules" (validated at compile time).
  if (segs.size() == 2) return true;
  if (!iequals(segs[2], *module)) return false;
  if (segs.size() == 3) return true;
  const auto& output = message.sys_prop(core::SystemProperty::output_name);
  if (!output || output->empty()) return false;
  if (segs.size() == 4) return true;
  return iequals(segs[4], *output);
}

bool Route::fires(EvalContext& bound_context) const noexcept {
  const auto* message = bound_context.state().message;
  if (message == nullptr || !source_matches(*message)) return false;
  return !condition_ || condition_->evaluate(bound_context) == Tri::true_;
}

}  // namespace edgehub::routing
