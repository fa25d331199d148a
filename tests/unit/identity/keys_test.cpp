// Base64, key generation and thumbprint parsing.

#include "edgehub/identity/keys.hpp"

#include <gtest/gtest.h>

#include "identity/crypto.hpp"

namespace edgehub::identity {
namespace {

Bytes bytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {{"", ""},
                                                                   {"f", "Zg=="},
                                                                   {"fo", "Zm8="},
                                                                   {"foo", "Zm9v"},
                                                                   {"foob", "Zm9vYg=="},
                                                                   {"fooba", "Zm9vYmE="},
                                                                   {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(encode_base64(bytes(plain)), encoded);
    EXPECT_EQ(decode_base64(encoded), bytes(plain)) << encoded;
  }
}

TEST(Base64, AllByteValuesRoundTrip) {
  Bytes all(256);
  for (int i = 0; i < 256; ++i)
    all[i] = static_cast<unsigned char>(i);
  EXPECT_EQ(decode_base64(encode_base64(all)), all);
}

TEST(Base64, StrictDecodingRefusesSloppyInput) {
  for (const char* bad :
       {"Zg", "Zg=", "Zm9v\n", " Zm9v", "Zg==Zg==", "Z===", "Zm-v", "Zm_v", "Zm9v====", "=Zm9"}) {
    EXPECT_EQ(decode_base64(bad), std::nullopt) << bad;
  }
}

// RFC 4231 test cases 1 and 2, and the empty key (what a SAS signature is checked with).
TEST(HmacSha256, KnownAnswers) {
  const auto hex = [](const detail::Sha256& mac) {
    std::string out;
    for (const unsigned char b : mac) {
      out += "0123456789abcdef"[b >> 4];
      out += "0123456789abcdef"[b & 15];
    }
    return out;
  };
  const Bytes key1(20, 0x0b);
  EXPECT_EQ(hex(detail::hmac_sha256(key1, "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex(detail::hmac_sha256(bytes("Jefe"), "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(detail::hmac_sha256({}, "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  // The same key again, after another: nothing of one MAC leaks into the next.
  EXPECT_EQ(hex(detail::hmac_sha256(key1, "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(GenerateKey, Is32RandomBytesInBase64) {
  auto a = generate_key();
  auto b = generate_key();
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->size(), 44u);
  EXPECT_EQ(decode_base64(*a)->size(), 32u);
  EXPECT_NE(*a, *b);
}

TEST(Thumbprint, AcceptsSha1AndSha256InAnyCaseWithColons) {
  const std::string sha1 = "0123456789abcdef0123456789ABCDEF01234567";
  auto parsed = parse_thumbprint(sha1);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->size(), 20u);
  EXPECT_EQ(to_hex(*parsed), "0123456789ABCDEF0123456789ABCDEF01234567");
  EXPECT_EQ(parse_thumbprint("01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67"),
            parsed);
  EXPECT_EQ(parse_thumbprint("  " + sha1 + " "), parsed);
  auto sha256 = parse_thumbprint(std::string(64, 'f'));
  ASSERT_TRUE(sha256);
  EXPECT_EQ(sha256->size(), 32u);
}

TEST(Thumbprint, RefusesOtherLengthsAndCharacters) {
  for (const std::string& bad :
       {std::string(), std::string(38, 'a'), std::string(42, 'a'), std::string(39, 'a'),
        std::string(40, 'g'), std::string("0:123456789abcdef0123456789abcdef01234567"),
        std::string(63, 'a')}) {
    EXPECT_EQ(parse_thumbprint(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace edgehub::identity
