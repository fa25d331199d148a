#include "edgehub/routing/condition.hpp"

#include "routing/compiler.hpp"
#include "routing/lexer.hpp"
#include "routing/program.hpp"

namespace edgehub::routing {
namespace {

class RoutingCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "edgehub.routing"; }
  std::string message(int ev) const override {
    switch (static_cast<RoutingErrc>(ev)) {
      case RoutingErrc::syntax_error:
        return "route syntax error";
      case RoutingErrc::type_error:
        return "route type error";
      case RoutingErrc::unknown_function:
        return "unknown route function";
      case RoutingErrc::bad_arguments:
        return "bad route function arguments";
      case RoutingErrc::bad_source:
        return "unsupported route source";
      case RoutingErrc::bad_sink:
        return "unsupported route endpoint";
      case RoutingErrc::too_deep:
        return "route expression nested too deeply";
      case RoutingErrc::bad_route_spec:
        return "bad route declaration";
    }
    return "routing error";
  }
};

}  // namespace

const boost::system::error_category& routing_category() noexcept {
  static const RoutingCategory category;
  return category;
}

boost::system::error_code make_error_code(RoutingErrc e) noexcept {
  return {static_cast<int>(e), routing_category()};
}

std::string CompileError::to_string() const {
  if (column == 0) return message;
  return "column " + std::to_string(column) + ": " + message;
}

std::string_view to_string(Tri value) noexcept {
  switch (value) {
    case Tri::true_:
      return "true";
    case Tri::false_:
      return "false";
    case Tri::undefined:
      return "undefined";
  }
  return "undefined";
}

namespace detail {

std::string_view type_name(Type t) noexcept {
  switch (t) {
    case Type::boolean:
      return "boolean";
    case Type::number:
      return "number";
    case Type::string:
      return "string";
    case Type::null:
      return "null";
    case Type::undefined:
      return "undefined";
    case Type::query:
      return "body value";
  }
  return "?";
}

}  // namespace detail

EvalContext::EvalContext() : state_(std::make_unique<detail::ContextState>()) {}
EvalContext::~EvalContext() = default;
EvalContext::EvalContext(EvalContext&&) noexcept = default;
EvalContext& EvalContext::operator=(EvalContext&&) noexcept = default;

void EvalContext::bind(const core::Message& message) noexcept {
  state_->message = &message;
  state_->body_state = detail::BodyState::unknown;
  state_->body_json = {};
  state_->arena.reset();
  state_->stack.clear();
}

Condition::Condition(std::unique_ptr<const detail::Program> program) noexcept
    : program_(std::move(program)) {}
Condition::Condition(Condition&&) noexcept = default;
Condition& Condition::operator=(Condition&&) noexcept = default;
Condition::~Condition() = default;

core::Result<Condition> Condition::compile(std::string_view text, const CompileOptions& options,
                                           CompileError* error) {
  CompileError local;
  CompileError& err = error != nullptr ? *error : local;
  std::vector<detail::Token> tokens;
  try {
    tokens = detail::lex(text);
  } catch (const std::bad_alloc&) {
    detail::set_error(err, RoutingErrc::syntax_error, text, 0, "out of memory");
    return make_error_code(RoutingErrc::syntax_error);
  }
  // An empty condition is edgeHub's undefined (ConditionVisitor.VisitEof).
  if (tokens.front().kind == detail::Tok::end) {
    return detail::Program::make_condition(detail::undefined_program(text));
  }
  std::size_t pos = 0;
  auto program = detail::compile_expression(text, tokens, pos, options, err);
  if (!program) return make_error_code(err.code);
  if (tokens[pos].kind != detail::Tok::end) {
    detail::set_error(err, RoutingErrc::syntax_error, text, tokens[pos].offset,
                      tokens[pos].kind == detail::Tok::unknown
                          ? "unrecognized symbol '" + std::string(tokens[pos].text) + "'"
                          : "unexpected " + detail::describe(tokens[pos]) +
                                " after a complete expression (missing AND/OR or operator?)");
    return make_error_code(RoutingErrc::syntax_error);
  }
  program->text = std::string(text);
  return detail::Program::make_condition(std::move(program));
}

Tri Condition::evaluate(EvalContext& context) const noexcept {
  auto& st = context.state();
  st.arena.reset();
  st.stack.clear();
  const detail::Value v = detail::evaluate(*program_, st);
  return detail::to_condition_result(v, program_->root_type);
}

Tri Condition::evaluate(const core::Message& message) const {
  EvalContext context;
  context.bind(message);
  return evaluate(context);
}

const std::string& Condition::text() const noexcept {
  return program_->text;
}

}  // namespace edgehub::routing
