#pragma once

// Shared helpers for the route language tests: a message like the one edgeHub's own condition
// tests use (string properties, a null-valued one, an application property named "$...").

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "edgehub/core/message.hpp"
#include "edgehub/routing/condition.hpp"

namespace edgehub::routing::test {

inline core::Message sample_message() {
  core::Message m;
  m.set_app("key1", "value1");
  m.set_app("key2", "3");
  m.set_app("key3", "VALUE3");
  m.set_app("null_value", std::nullopt);
  m.set_app("$messageId", "app-wins");
  m.sys_prop(core::SystemProperty::message_id) = "mid-1";
  m.sys_prop(core::SystemProperty::correlation_id) = "corr-1";
  m.sys_prop(core::SystemProperty::connection_device_id) = "dev1";
  m.sys_prop(core::SystemProperty::user_id) = "4";
  return m;
}

inline core::Message json_message(std::string_view body, std::string_view type = "application/json",
                                  std::string_view encoding = "utf-8") {
  core::Message m;
  m.set_body(body);
  if (!type.empty()) m.sys_prop(core::SystemProperty::content_type) = std::string(type);
  if (!encoding.empty()) m.sys_prop(core::SystemProperty::content_encoding) = std::string(encoding);
  return m;
}

/// "true" / "false" / "undefined", or "compile_error: <message>".
inline std::string run(std::string_view condition, const core::Message& m,
                       CompileOptions options = {}) {
  CompileError error;
  auto c = Condition::compile(condition, options, &error);
  if (!c) return "compile_error: " + error.to_string();
  return std::string(to_string(c->evaluate(m)));
}

inline std::string run(std::string_view condition) {
  return run(condition, sample_message());
}

inline bool compiles(std::string_view condition) {
  return Condition::compile(condition).has_value();
}

}  // namespace edgehub::routing::test
