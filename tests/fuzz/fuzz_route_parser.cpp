// Feeds arbitrary text to the route and condition compilers, and evaluates whatever compiles
// against messages whose properties and JSON body come from the same input, so the parser,
// static checker, evaluator and $body walker all see hostile data. Deep nesting must be a
// compile error, never a stack overflow.
//
// Input layout: the first line is the route/condition text; the rest (if any) is used as the
// message body (JSON) and as application property values.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "edgehub/routing/condition.hpp"
#include "edgehub/routing/route_table.hpp"

namespace {

using edgehub::core::Message;
using edgehub::core::SystemProperty;

Message make_message(std::string_view payload, bool json) {
  Message m;
  m.set_body(payload);
  if (json) {
    m.sys_prop(SystemProperty::content_type) = "application/json";
    m.sys_prop(SystemProperty::content_encoding) = "utf-8";
  }
  m.sys_prop(SystemProperty::connection_device_id) = "dev";
  m.set_app("a", std::string(payload.substr(0, 16)));
  m.set_app("n", "42");
  m.set_app("z", std::nullopt);
  m.set_app("$body.x", "shadow");
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string_view text = input.substr(0, newline);
  const std::string_view payload =
      newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);

  const Message json_msg = make_message(payload, true);
  const Message twin = [&] {
    Message m = make_message(payload, true);
    m.kind = edgehub::core::MessageKind::twin_change_notification;
    return m;
  }();
  const Message module_msg = [&] {
    Message m = make_message(payload, false);
    m.sys_prop(SystemProperty::connection_module_id) = "mod";
    m.sys_prop(SystemProperty::output_name) = "out";
    return m;
  }();

  edgehub::routing::CompileError error;
  for (const bool twin_source : {false, true}) {
    edgehub::routing::CompileOptions options;
    options.twin_change_source = twin_source;
    if (auto c = edgehub::routing::Condition::compile(text, options, &error)) {
      edgehub::routing::EvalContext context;
      for (const Message* m : {&json_msg, &twin, &module_msg}) {
        context.bind(*m);
        (void)c->evaluate(context);
        (void)c->evaluate(context);  // cached body path
      }
    } else if (error.message.empty()) {
      __builtin_trap();  // every failure must explain itself
    }
  }
  if (auto r = edgehub::routing::Route::compile(text, "edge", &error)) {
    edgehub::routing::EvalContext context;
    for (const Message* m : {&json_msg, &twin, &module_msg}) {
      context.bind(*m);
      (void)r->fires(context);
    }
  }
  return 0;
}
