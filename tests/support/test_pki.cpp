#include "support/test_pki.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

namespace sb::test {
namespace {

using Key = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using Cert = std::unique_ptr<X509, decltype(&X509_free)>;

void check(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test PKI: ") + what + " failed");
}

Key new_key() {
    Key key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
    check(key != nullptr, "EVP_EC_gen");
    return key;
}

// A certificate for `key` named `common_name`, with `extensions` (NID, value), signed by
// `issuer_key` as `issuer` (nullptr: self-signed).
Cert new_cert(EVP_PKEY* key, const char* common_name, long serial,
              const std::vector<std::pair<int, const char*>>& extensions, X509* issuer,
              EVP_PKEY* issuer_key) {
    Cert cert(X509_new(), &X509_free);
    check(cert != nullptr, "X509_new");
    check(X509_set_version(cert.get(), 2) == 1, "X509_set_version");
    check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial) == 1, "serial");
    check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr, "notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600) != nullptr, "notAfter");
    check(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");
    X509_NAME* name = X509_get_subject_name(cert.get());
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0) == 1,
          "subject");
    X509* signer = issuer != nullptr ? issuer : cert.get();
    check(X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) == 1, "issuer");
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, signer, cert.get(), nullptr, nullptr, 0);
    for (const auto& [nid, value] : extensions) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
        check(ext != nullptr, "X509V3_EXT_conf_nid");
        const int added = X509_add_ext(cert.get(), ext, -1);
        X509_EXTENSION_free(ext);
        check(added == 1, "X509_add_ext");
    }
    check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
    return cert;
}

template <typename Write>
std::string pem(Write write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    check(bio != nullptr && write(bio.get()) == 1, "PEM_write");
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

TestPki make_test_pki(const std::string& dns_name) {
    Key ca_key = new_key();
    Cert ca = new_cert(ca_key.get(), "Switchboard test CA", 1,
                       {{NID_basic_constraints, "critical,CA:TRUE"},
                        {NID_key_usage, "critical,keyCertSign,cRLSign"},
                        {NID_subject_key_identifier, "hash"}},
                       nullptr, nullptr);
    Key key = new_key();
    const std::string san = "DNS:" + dns_name;
    Cert cert = new_cert(key.get(), dns_name.c_str(), 2,
                         {{NID_basic_constraints, "critical,CA:FALSE"},
                          {NID_key_usage, "critical,digitalSignature"},
                          {NID_ext_key_usage, "serverAuth"},
                          {NID_subject_alt_name, san.c_str()},
                          {NID_authority_key_identifier, "keyid:always"}},
                         ca.get(), ca_key.get());
    TestPki pki;
    pki.ca_pem = pem([&](BIO* b) { return PEM_write_bio_X509(b, ca.get()); });
    pki.cert_pem = pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
    pki.key_pem = pem([&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    return pki;
}

}  // namespace sb::test
