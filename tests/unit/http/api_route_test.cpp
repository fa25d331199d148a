// Which operation a request line names (iot-hub-protocol.md §5.1, edgehub-reference.md §1.5).

#include "edgehub/http/api_route.hpp"

#include <gtest/gtest.h>

#include "edgehub/http/errors.hpp"

namespace edgehub::http {
namespace {

TEST(ApiRoute, DeviceApi) {
  auto r = match_route("POST", "/devices/dev%2D1/messages/events?api-version=2021-04-12");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->operation, Operation::telemetry);
  EXPECT_EQ(r->device, "dev-1");
  EXPECT_EQ(r->api_version, "2021-04-12");

  r = match_route("GET", "/devices/d/messages/deviceBound?api-version=2021-04-12");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->operation, Operation::c2d_receive);
  r = match_route("GET", "/devices/d/messages/devicebound");  // Node's spelling
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->api_version);

  r = match_route("DELETE", "/devices/d/messages/devicebound/abc-123?api-version=2021-04-12");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->operation, Operation::c2d_complete);
  EXPECT_EQ(r->lock_token, "abc-123");
  r = match_route("DELETE", "/devices/d/messages/devicebound/abc?api-version=2021-04-12&reject");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->operation, Operation::c2d_reject);
  r = match_route("POST", "/devices/d/messages/devicebound/abc/abandon?api-version=2021-04-12");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->operation, Operation::c2d_abandon);
}

TEST(ApiRoute, MethodsAndScope) {
  auto r = match_route("POST", "/twins/dev1/methods");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->operation, Operation::invoke_method);
  EXPECT_EQ(r->device, "dev1");
  EXPECT_TRUE(r->module.empty());
  r = match_route("POST", "/twins/gw/modules/filter/methods");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->module, "filter");

  r = match_route("POST",
                  "/devices/child/modules/$edgeHub/devicesAndModulesInTargetDeviceScope"
                  "?api-version=2020-06-30-preview");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->operation, Operation::scope_devices_and_modules);
  EXPECT_EQ(r->device, "child");
  EXPECT_EQ(r->api_version, kNestedApiVersion);
  r = match_route("POST", "/devices/child/modules/%24edgeHub/getDeviceAndModuleOnBehalfOf");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->operation, Operation::scope_on_behalf_of);
}

TEST(ApiRoute, Refusals) {
  const auto error = [](std::string_view method, std::string_view target) {
    auto r = match_route(method, target);
    return r ? core::ErrorCode{} : r.error();
  };
  EXPECT_EQ(error("GET", "/devices/d/messages/events"), Errc::method_not_allowed);
  EXPECT_EQ(error("PUT", "/twins/d/methods"), Errc::method_not_allowed);
  EXPECT_EQ(error("GET", "/"), Errc::not_found);
  EXPECT_EQ(error("GET", "/metrics"), Errc::not_found);
  EXPECT_EQ(error("POST", "/devices/d/messages/events/"), Errc::bad_request);
  EXPECT_EQ(error("POST", "/devices/d%zz/messages/events"), Errc::bad_request);
  EXPECT_EQ(error("POST", "/devices/d%2/messages/events"), Errc::bad_request);
  EXPECT_EQ(error("POST", "/devices/a%2Fb/messages/events"), Errc::not_found);  // invalid id
  EXPECT_EQ(error("POST", "/devices/" + std::string(129, 'a') + "/messages/events"),
            Errc::not_found);
  EXPECT_EQ(error("POST", "/devices/d/modules/other/devicesAndModulesInTargetDeviceScope"),
            Errc::not_found);
  EXPECT_EQ(error("POST", "/a/b/c/d/e/f/g/h/i/j"), Errc::not_found);
  EXPECT_EQ(error("POST", "no-slash"), Errc::bad_request);
}

TEST(ApiRoute, ApiVersionForm) {
  EXPECT_TRUE(is_api_version("2021-04-12"));
  EXPECT_TRUE(is_api_version("2020-06-30-preview"));
  EXPECT_FALSE(is_api_version("2021-4-12"));
  EXPECT_FALSE(is_api_version("latest"));
  EXPECT_FALSE(is_api_version(""));
  EXPECT_FALSE(is_api_version("2021-04-12-beta"));
}

TEST(ApiErrors, IotHubStatusesAndNames) {
  EXPECT_EQ(status_of(Errc::too_large), 413);
  EXPECT_EQ(error_name(Errc::too_large), "MessageTooLarge");
  EXPECT_EQ(status_of(Errc::unauthorized), 401);
  EXPECT_EQ(error_name(Errc::unauthorized), "IotHubUnauthorizedAccess");
  EXPECT_EQ(status_of(Errc::timeout), 504);
  EXPECT_EQ(status_of(Errc::device_not_online), 404);
  EXPECT_EQ(status_of(Errc::lock_lost), 412);
  EXPECT_EQ(status_of(make_error_code(boost::system::errc::io_error)), 500);
}

}  // namespace
}  // namespace edgehub::http
