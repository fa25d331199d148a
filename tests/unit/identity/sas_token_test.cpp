// SAS token parsing, minting and verification (iot-hub-protocol.md §1.3-1.4).

#include "edgehub/identity/sas_token.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace edgehub::identity {
namespace {

using core::ClientId;

constexpr std::string_view kKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
constexpr std::string_view kHub = "myhub.azure-devices.net";
constexpr std::int64_t kSe = 1700000000;
constexpr std::string_view kDeviceVector =
    "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig="
    "wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D&se=1700000000";
constexpr std::string_view kModuleVector =
    "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1%2Fmodules%2Fmod1&sig="
    "ZId0CjYzILqd7GGIpC99uIpjPK4fJTkYbrDAh8qYiy8%3D&se=1700000000";
constexpr std::string_view kPolicyVector =
    "SharedAccessSignature sr=myhub.azure-devices.net&sig="
    "sJAIZTF5oG40VHrie96heZ865%2BnR4QavBvHnzxZm8rk%3D&skn=iothubowner&se=1700000000";

core::SystemTime at(std::int64_t seconds) {
  return core::SystemTime{std::chrono::seconds{seconds}};
}

Bytes key_bytes(std::string_view b64 = kKey) {
  return *decode_base64(b64);
}

const AudienceHosts kHosts{std::string(kHub), "gw.example.local"};

// Verifies `token` for `claimed` with the test key at `now`.
core::Result<void> verify(std::string_view text, const ClientId& claimed,
                          std::int64_t now = kSe - 60, const AudienceHosts& hosts = kHosts) {
  auto token = parse_sas_token(text);
  if (!token) return token.error();
  const std::vector<Bytes> keys = {key_bytes()};
  return verify_sas_token(*token, claimed, keys, hosts, at(now));
}

// A token over an arbitrary (already encoded) sr, signed with the test key.
std::string token_for_sr(std::string_view sr, std::int64_t se = kSe) {
  const std::string se_text = std::to_string(se);
  return "SharedAccessSignature sr=" + std::string(sr) +
         "&sig=" + url_encode(compute_signature(sr, se_text, key_bytes())) + "&se=" + se_text;
}

TEST(SasVectors, DeviceTokenMintedExactly) {
  auto token = make_sas_token("myhub.azure-devices.net/devices/dev1", kKey, at(kSe));
  ASSERT_TRUE(token) << token.error().message();
  EXPECT_EQ(*token, kDeviceVector);
}

TEST(SasVectors, ModuleTokenMintedExactly) {
  auto token = make_sas_token("myhub.azure-devices.net/devices/dev1/modules/mod1", kKey, at(kSe));
  ASSERT_TRUE(token);
  EXPECT_EQ(*token, kModuleVector);
}

TEST(SasVectors, PolicyTokenMintedExactly) {
  auto token = make_sas_token("myhub.azure-devices.net", kKey, at(kSe), "iothubowner");
  ASSERT_TRUE(token);
  EXPECT_EQ(*token, kPolicyVector);
}

TEST(SasVectors, StringToSignOfFirstVector) {
  auto token = parse_sas_token(kDeviceVector);
  ASSERT_TRUE(token);
  EXPECT_EQ(string_to_sign(token->sr, token->se),
            "myhub.azure-devices.net%2Fdevices%2Fdev1\n1700000000");
}

TEST(SasVectors, DeviceVectorVerifies) {
  EXPECT_TRUE(verify(kDeviceVector, ClientId{"dev1", ""}));
}

TEST(SasVectors, ModuleVectorVerifies) {
  EXPECT_TRUE(verify(kModuleVector, ClientId{"dev1", "mod1"}));
}

TEST(SasVectors, PolicyVectorSignatureMatchesButPolicyTokensAreRefused) {
  auto token = parse_sas_token(kPolicyVector);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->key_name, "iothubowner");
  EXPECT_TRUE(signature_matches(*token, key_bytes()));
  EXPECT_EQ(verify(kPolicyVector, ClientId{"dev1", ""}).error(), Errc::policy_token);
}

TEST(SasParse, DecodesFields) {
  auto token = parse_sas_token(kModuleVector);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->resource, "myhub.azure-devices.net/devices/dev1/modules/mod1");
  EXPECT_EQ(token->sr, "myhub.azure-devices.net%2Fdevices%2Fdev1%2Fmodules%2Fmod1");
  EXPECT_EQ(token->expiry, kSe);
  EXPECT_EQ(token->expires_at(), at(kSe));
  EXPECT_EQ(token->signature.size(), 32u);
  EXPECT_FALSE(token->key_name);
}

TEST(SasParse, FieldsInAnyOrder) {
  const std::string docs_order =
      "SharedAccessSignature sig=wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D&se=1700000000"
      "&sr=myhub.azure-devices.net%2Fdevices%2Fdev1";
  EXPECT_TRUE(verify(docs_order, ClientId{"dev1", ""}));
}

TEST(SasParse, SplitsEachFieldAtTheFirstEquals) {
  // A sig sent without URL encoding keeps its '+' and trailing '='.
  const std::string raw_sig =
      "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig="
      "wosmA3uJK9T0mdB5CIYn+sAVA2ODflnucuvNO5S6mbM=&se=1700000000";
  EXPECT_TRUE(verify(raw_sig, ClientId{"dev1", ""}));
}

TEST(SasParse, UnknownFieldsAndEmptySegmentsAreIgnored) {
  const std::string text = std::string(kDeviceVector) + "&&x=1";
  EXPECT_TRUE(verify(text, ClientId{"dev1", ""}));
}

TEST(SasParse, MalformedTokensAreRefusedAsMalformed) {
  const std::string sig = "sig=wosmA3uJK9T0mdB5CIYn%2BsAVA2ODflnucuvNO5S6mbM%3D";
  const std::string sr = "sr=myhub.azure-devices.net%2Fdevices%2Fdev1";
  const std::vector<std::string> bad = {
      "",
      "SharedAccessSignature",
      "SharedAccessSignature ",
      "sharedaccesssignature " + sr + "&" + sig + "&se=1",
      "Bearer " + sr + "&" + sig + "&se=1",
      "SharedAccessSignature " + sig + "&se=1",                                // no sr
      "SharedAccessSignature " + sr + "&se=1",                                 // no sig
      "SharedAccessSignature " + sr + "&" + sig,                               // no se
      "SharedAccessSignature " + sr + "&" + sig + "&se=1&se=2",                // repeated
      "SharedAccessSignature " + sr + "&" + sig + "&se",                       // no '='
      "SharedAccessSignature " + sr + "&" + sig + "&se=-5",                    // negative
      "SharedAccessSignature " + sr + "&" + sig + "&se=12x",                   // not decimal
      "SharedAccessSignature " + sr + "&" + sig + "&se=99999999999999999999",  // overflow
      "SharedAccessSignature " + sr + "&" + sig + "&se=",                      // empty
      "SharedAccessSignature sr=a%2&" + sig + "&se=1",                         // truncated escape
      "SharedAccessSignature sr=a%zz&" + sig + "&se=1",                        // non-hex escape
      "SharedAccessSignature sr=&" + sig + "&se=1",                            // empty sr
      "SharedAccessSignature " + sr + "&sig=not*base64&se=1",                  // sig not base64
      "SharedAccessSignature " + sr + "&sig=&se=1",                            // empty sig
      "SharedAccessSignature " + sr + "&" + sig + "&se=1&skn=%G1",             // bad skn escape
      "SharedAccessSignature " + sr + "&" + sig + "&se=1" + std::string(kMaxTokenLength, '0'),
  };
  for (const auto& text : bad) {
    EXPECT_EQ(parse_sas_token(text).error(), Errc::malformed_token) << text;
  }
}

TEST(SasVerify, ExpiredTokenIsRefused) {
  EXPECT_TRUE(verify(kDeviceVector, ClientId{"dev1", ""}, kSe));  // se == now: still valid
  EXPECT_EQ(verify(kDeviceVector, ClientId{"dev1", ""}, kSe + 1).error(), Errc::token_expired);
}

TEST(SasVerify, FarFutureExpiryDoesNotOverflow) {
  // Beyond 2262 system_clock cannot represent the time: such a token never expires.
  const std::vector<std::int64_t> expiries = {17000001004, 99999999999, 9223372036854775807};
  for (const std::int64_t se : expiries) {
    auto token = parse_sas_token(token_for_sr("myhub.azure-devices.net%2Fdevices%2Fdev1", se));
    ASSERT_TRUE(token) << se;
    EXPECT_GT(token->expires_at(), at(kSe)) << se;
    const std::vector<Bytes> keys = {key_bytes()};
    EXPECT_TRUE(verify_sas_token(*token, ClientId{"dev1", ""}, keys, kHosts, at(kSe))) << se;
  }
}

TEST(SasVerify, WrongKeyIsABadSignature) {
  auto token = parse_sas_token(kDeviceVector);
  ASSERT_TRUE(token);
  const std::vector<Bytes> keys = {key_bytes("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=")};
  EXPECT_EQ(verify_sas_token(*token, ClientId{"dev1", ""}, keys, kHosts, at(kSe - 1)).error(),
            Errc::bad_signature);
}

TEST(SasVerify, AnyOfSeveralKeysMayMatch) {
  auto token = parse_sas_token(kDeviceVector);
  ASSERT_TRUE(token);
  const std::vector<Bytes> keys = {key_bytes("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="),
                                   key_bytes()};
  EXPECT_TRUE(verify_sas_token(*token, ClientId{"dev1", ""}, keys, kHosts, at(kSe - 1)));
}

TEST(SasVerify, TamperedExpiryIsABadSignature) {
  std::string text(kDeviceVector);
  text.replace(text.find("se=1700000000"), 13, "se=1800000000");
  EXPECT_EQ(verify(text, ClientId{"dev1", ""}).error(), Errc::bad_signature);
}

TEST(SasVerify, ForgedExpiredTokenIsReportedAsForged) {
  std::string text(kDeviceVector);
  text.replace(text.find("se=1700000000"), 13, "se=1600000000");
  EXPECT_EQ(verify(text, ClientId{"dev1", ""}, kSe).error(), Errc::bad_signature);
}

TEST(SasAudience, AnotherHubIsTheWrongAudience) {
  const auto text = token_for_sr("otherhub.azure-devices.net%2Fdevices%2Fdev1");
  EXPECT_EQ(verify(text, ClientId{"dev1", ""}).error(), Errc::wrong_audience);
}

TEST(SasAudience, AnotherDeviceIsTheWrongAudience) {
  EXPECT_EQ(verify(kDeviceVector, ClientId{"dev2", ""}).error(), Errc::wrong_audience);
}

TEST(SasAudience, GatewayHostnameIsAccepted) {
  EXPECT_TRUE(verify(token_for_sr("gw.example.local%2Fdevices%2Fdev1"), ClientId{"dev1", ""}));
}

TEST(SasAudience, HostIsCaseInsensitive) {
  EXPECT_TRUE(
      verify(token_for_sr("MyHub.Azure-Devices.NET%2Fdevices%2Fdev1"), ClientId{"dev1", ""}));
  EXPECT_TRUE(verify(token_for_sr("GW.EXAMPLE.LOCAL%2Fdevices%2Fdev1"), ClientId{"dev1", ""}));
}

TEST(SasAudience, DeviceIdIsCaseSensitive) {
  EXPECT_EQ(verify(token_for_sr("myhub.azure-devices.net%2Fdevices%2FDEV1"), ClientId{"dev1", ""})
                .error(),
            Errc::wrong_audience);
}

TEST(SasAudience, LowerCaseEscapesAreSignedVerbatim) {
  // The docs ask for %2f; the SDKs send %2F. Both decode to the same resource, and the
  // signature covers the text exactly as received.
  const auto lower = token_for_sr("myhub.azure-devices.net%2fdevices%2fdev1");
  EXPECT_TRUE(verify(lower, ClientId{"dev1", ""}));
  // Re-casing the escapes after signing changes the signed text.
  std::string recased = lower;
  recased.replace(recased.find("%2fdevices%2f"), 13, "%2Fdevices%2F");
  EXPECT_EQ(verify(recased, ClientId{"dev1", ""}).error(), Errc::bad_signature);
}

TEST(SasAudience, UnencodedSlashesAreAccepted) {
  EXPECT_TRUE(verify(token_for_sr("myhub.azure-devices.net/devices/dev1"), ClientId{"dev1", ""}));
}

TEST(SasAudience, AmqpsPrefixIsStripped) {
  EXPECT_TRUE(verify(token_for_sr("amqps%3A%2F%2Fmyhub.azure-devices.net%2Fdevices%2Fdev1"),
                     ClientId{"dev1", ""}));
  EXPECT_TRUE(
      verify(token_for_sr("amqps://myhub.azure-devices.net/devices/dev1"), ClientId{"dev1", ""}));
}

TEST(SasAudience, PortInHostIsIgnored) {
  EXPECT_TRUE(
      verify(token_for_sr("myhub.azure-devices.net:8883%2Fdevices%2Fdev1"), ClientId{"dev1", ""}));
}

TEST(SasAudience, WholeSegmentPrefixesCover) {
  const ClientId module{"dev1", "mod1"};
  EXPECT_TRUE(verify(token_for_sr("myhub.azure-devices.net"), module));
  EXPECT_TRUE(verify(token_for_sr("myhub.azure-devices.net%2Fdevices"), module));
  EXPECT_TRUE(verify(token_for_sr("myhub.azure-devices.net%2Fdevices%2Fdev1"), module));
  EXPECT_TRUE(verify(token_for_sr("myhub.azure-devices.net%2Fdevices%2Fdev1%2Fmodules"), module));
}

TEST(SasAudience, PartialSegmentsDoNotCover) {
  // "/a/b" is a prefix of "/a/b/c" but not of "/a/bc".
  EXPECT_EQ(
      verify(token_for_sr("myhub.azure-devices.net%2Fdevices%2Fdev"), ClientId{"dev1", ""}).error(),
      Errc::wrong_audience);
  EXPECT_EQ(verify(token_for_sr("myhub.azure-devices.net%2Fdev"), ClientId{"dev1", ""}).error(),
            Errc::wrong_audience);
  EXPECT_EQ(verify(token_for_sr("myhub.azure-devices.net%2Fdevices%2Fdev1%2Fmodules%2Fmod"),
                   ClientId{"dev1", "mod1"})
                .error(),
            Errc::wrong_audience);
}

TEST(SasAudience, ModuleTokenDoesNotCoverItsDevice) {
  EXPECT_EQ(verify(kModuleVector, ClientId{"dev1", ""}).error(), Errc::wrong_audience);
}

TEST(SasAudience, HostMustNotBeAPrefixMatch) {
  EXPECT_EQ(verify(token_for_sr("myhub.azure-devices.net.evil.com%2Fdevices%2Fdev1"),
                   ClientId{"dev1", ""})
                .error(),
            Errc::wrong_audience);
  EXPECT_EQ(verify(token_for_sr("%2Fdevices%2Fdev1"), ClientId{"dev1", ""}).error(),
            Errc::wrong_audience);
}

TEST(SasAudience, EmptyConfiguredHostMatchesNothing) {
  const AudienceHosts no_gateway{std::string(kHub), ""};
  EXPECT_EQ(
      verify(token_for_sr("%2Fdevices%2Fdev1"), ClientId{"dev1", ""}, kSe - 1, no_gateway).error(),
      Errc::wrong_audience);
}

TEST(SasAudience, IdsAreUrlDecodedBeforeComparing) {
  // '#' and '$' appear in real device ids and are percent-encoded in sr.
  auto token = make_sas_token("myhub.azure-devices.net/devices/a#b$c", kKey, at(kSe));
  ASSERT_TRUE(token);
  EXPECT_NE(token->find("a%23b%24c"), std::string::npos);
  EXPECT_TRUE(verify(*token, ClientId{"a#b$c", ""}));
}

TEST(SasResource, ClientIdFromResource) {
  auto device = client_id_from_resource("myhub.azure-devices.net/devices/dev1");
  ASSERT_TRUE(device);
  EXPECT_EQ(*device, (ClientId{"dev1", ""}));
  auto module = client_id_from_resource("amqps://myhub.azure-devices.net/devices/d/modules/m");
  ASSERT_TRUE(module);
  EXPECT_EQ(*module, (ClientId{"d", "m"}));
  for (const char* bad :
       {"myhub", "myhub/devices", "myhub/devices/", "myhub/things/d", "myhub/devices/d/modules",
        "myhub/devices/d/x/m", "/devices/d", "myhub/devices/d/modules/m/extra"}) {
    EXPECT_EQ(client_id_from_resource(bad).error(), Errc::wrong_audience) << bad;
  }
}

TEST(SasMint, InvalidKeyIsRefused) {
  EXPECT_EQ(make_sas_token("h/devices/d", "not base64!", at(kSe)).error(), Errc::invalid_key);
  EXPECT_EQ(make_sas_token("h/devices/d", "", at(kSe)).error(), Errc::invalid_key);
}

TEST(SasMint, ExpiryIsTruncatedToSeconds) {
  auto token = make_sas_token("h/devices/d", kKey, at(kSe) + std::chrono::milliseconds(999));
  ASSERT_TRUE(token);
  EXPECT_NE(token->find("&se=1700000000"), std::string::npos);
}

TEST(SasMint, SknIsEmittedBeforeSe) {
  auto token = make_sas_token("h", kKey, at(kSe), "my policy");
  ASSERT_TRUE(token);
  EXPECT_NE(token->find("&skn=my%20policy&se=1700000000"), std::string::npos);
}

TEST(UrlEncoding, MatchesTheSdkStrictEncoding) {
  EXPECT_EQ(url_encode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(url_encode("!'()*"), "%21%27%28%29%2A");
  EXPECT_EQ(url_encode("a b/c+d=e&f"), "a%20b%2Fc%2Bd%3De%26f");
  EXPECT_EQ(url_encode("\xc3\xa9"), "%C3%A9");  // UTF-8 bytes, one escape each
}

TEST(UrlEncoding, DecodesBothCases) {
  EXPECT_EQ(url_decode("a%2Fb%2fc"), "a/b/c");
  EXPECT_EQ(url_decode("a+b"), "a+b");
  EXPECT_EQ(url_decode("%"), std::nullopt);
  EXPECT_EQ(url_decode("%4"), std::nullopt);
  EXPECT_EQ(url_decode("%4g"), std::nullopt);
  EXPECT_EQ(url_decode(url_encode("x!'()*~ y")), "x!'()*~ y");
}

}  // namespace
}  // namespace edgehub::identity
