#include "edgehub/mqtt/naming_errors.hpp"

#include <string>

namespace edgehub::mqtt {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "edgehub.mqtt.naming"; }

  std::string message(int ev) const override {
    switch (static_cast<NamingErrc>(ev)) {
      case NamingErrc::invalid_username:
        return "user name is not {host}/{device}[/{module}]/?api-version=...";
      case NamingErrc::client_id_mismatch:
        return "client id does not match the device/module of the user name";
      case NamingErrc::invalid_property_bag:
        return "malformed property bag";
      case NamingErrc::not_telemetry:
        return "topic is not a telemetry topic";
    }
    return "unknown MQTT naming error";
  }
};

}  // namespace

const boost::system::error_category& naming_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace edgehub::mqtt
