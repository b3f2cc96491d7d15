#pragma once
// A throwaway certificate authority and a server certificate it signed, made in memory for
// one test run (nothing is written to the repository): what a fake platform needs to speak
// HTTPS on loopback, and what the daemon is told to trust (outbound.ca_file).

#include <string>

namespace sb::test {

struct TestPki {
    std::string ca_pem;    // the CA's certificate: what a client trusts
    std::string cert_pem;  // the server's certificate, for `dns_name`, signed by the CA
    std::string key_pem;   // the server's private key
};

// P-256 keys, SHA-256 signatures, valid from an hour ago for a day; the server certificate
// names `dns_name` in its subjectAltName (and nothing else).
TestPki make_test_pki(const std::string& dns_name);

}  // namespace sb::test
