#include "common/tls_files.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace weir {
namespace {

struct Pair {
  std::string cert;
  std::string key;
};

std::string Pem(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<size_t>(size));
  BIO_free(bio);
  return text;
}

// A self-signed P-256 certificate valid from now + `from` to now + `to`
// seconds.
Pair MakePair(long serial, long from = -60, long to = 3600) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), from);
  X509_gmtime_adj(X509_getm_notAfter(cert), to);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("t"), -1,
                             -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  BIO* cert_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, cert);
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  X509_free(cert);
  EVP_PKEY_free(key);
  return {Pem(cert_bio), Pem(key_bio)};
}

class TlsFilesTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) {
    return absl::StrCat(::testing::TempDir(), "/", name);
  }
  // Writes aside and renames, as a Secret update does.
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = Path(name);
    {
      std::ofstream out(path + ".new", std::ios::binary | std::ios::trunc);
      out << text;
    }
    std::rename((path + ".new").c_str(), path.c_str());
    return path;
  }
  TlsFilePaths Files(const Pair& pair, const std::string& ca = "") {
    TlsFilePaths paths;
    paths.cert = Write("tls.crt", pair.cert);
    paths.key = Write("tls.key", pair.key);
    if (!ca.empty()) paths.ca = Write("ca.crt", ca);
    return paths;
  }
};

TEST_F(TlsFilesTest, LoadsAMatchingPairAndItsCa) {
  const Pair pair = MakePair(0x1001);
  absl::StatusOr<TlsMaterial> material =
      LoadTlsMaterial(Files(pair, pair.cert));
  ASSERT_TRUE(material.ok()) << material.status();
  EXPECT_EQ(material->serial, "1001");
  EXPECT_EQ(material->cert_chain, pair.cert);
  EXPECT_EQ(material->key, pair.key);
  EXPECT_EQ(material->ca, pair.cert);
}

TEST_F(TlsFilesTest, RefusesBadFilesNamingTheFlag) {
  const Pair good = MakePair(1);
  const Pair other = MakePair(2);
  struct Case {
    const char* description;
    Pair pair;
    std::string ca;
    const char* flag;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"not PEM", {"garbage\n", good.key}, "", "--tls-cert", "no PEM"},
      {"a key where the certificate goes",
       {good.key, good.key},
       "",
       "--tls-cert",
       "no PEM"},
      {"the key of another pair",
       {good.cert, other.key},
       "",
       "--tls-key",
       "is not the key"},
      {"no key", {good.cert, "garbage\n"}, "", "--tls-key", "private key"},
      {"expired", MakePair(3, -7200, -3600), "", "--tls-cert", "expired"},
      {"not valid yet", MakePair(4, 3600, 7200), "", "--tls-cert",
       "not valid yet"},
      {"a CA without certificate", good, "garbage\n", "--client-ca", "no PEM"},
  };
  for (const Case& c : cases) {
    const absl::Status status = LoadTlsMaterial(Files(c.pair, c.ca)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << c.description << ": " << status;
    EXPECT_NE(status.message().find(c.flag), absl::string_view::npos)
        << c.description << ": " << status;
    EXPECT_NE(status.message().find(c.says), absl::string_view::npos)
        << c.description << ": " << status;
  }
  TlsFilePaths missing = Files(good);
  missing.cert = Path("missing.crt");
  const absl::Status status = LoadTlsMaterial(missing).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_NE(status.message().find("--tls-cert"), absl::string_view::npos);
  missing.key = "";
  EXPECT_EQ(LoadTlsMaterial(missing).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TlsFilesTest, WatcherTakesGoodReplacementsAndKeepsTheOldOnBadOnes) {
  std::vector<std::string> lines;
  const TlsFilePaths paths = Files(MakePair(0x10));
  absl::StatusOr<std::unique_ptr<TlsFileWatcher>> watcher =
      TlsFileWatcher::Create(
          paths, [&lines](absl::string_view line) { lines.emplace_back(line); },
          absl::ZeroDuration());
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  uint64_t first = 0;
  EXPECT_EQ((*watcher)->Current(&first)->serial, "10");

  // Unchanged files: nothing happens.
  uint64_t generation = 0;
  EXPECT_EQ((*watcher)->Current(&generation)->serial, "10");
  EXPECT_EQ(generation, first);
  EXPECT_TRUE(lines.empty());

  // A bad replacement: one line, the old material stays, and asking again
  // says nothing more.
  Write("tls.crt", "garbage\n");
  EXPECT_EQ((*watcher)->Current(&generation)->serial, "10");
  EXPECT_EQ((*watcher)->Current(&generation)->serial, "10");
  EXPECT_EQ(generation, first);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("refused"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("--tls-cert"), std::string::npos) << lines[0];

  // A good pair: taken.
  const Pair next = MakePair(0x11);
  Write("tls.key", next.key);
  Write("tls.crt", next.cert);
  EXPECT_EQ((*watcher)->Current(&generation)->serial, "11");
  EXPECT_GT(generation, first);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("reloaded"), std::string::npos) << lines[1];
}

TEST_F(TlsFilesTest, WatcherChecksAtMostOncePerInterval) {
  std::vector<std::string> lines;
  absl::StatusOr<std::unique_ptr<TlsFileWatcher>> watcher =
      TlsFileWatcher::Create(
          Files(MakePair(0x20)),
          [&lines](absl::string_view line) { lines.emplace_back(line); },
          absl::Hours(1));
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  const Pair next = MakePair(0x21);
  Write("tls.key", next.key);
  Write("tls.crt", next.cert);
  EXPECT_EQ((*watcher)->Current()->serial, "20");
  EXPECT_TRUE(lines.empty());
}

}  // namespace
}  // namespace weir
