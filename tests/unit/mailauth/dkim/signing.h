// Test helpers of auth_dkim_test: keys made with OpenSSL, their DNS records, and messages signed
// by the independent signers, dkimpy (dkim_sign.py) and OpenDKIM's opendkim-testmsg.
#pragma once
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

// dkim.h is C99: its _Bool is C++'s bool (the same ABI on every Debian target).
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

#include "dns_server.h"
#include "mailauth/resolver.h"

namespace test_dkim {

// Starts `dns` and checks that it answers `probe` (a TXT name among `records`) over UDP through
// mailauth::Resolver; starts it again (on another port) if it does not. DnsServer::start only sees
// its TCP port open: rarely, under load, its UDP answers never came (a whole suite timed out).
inline bool start_dns(test_support::DnsServer& dns, const test_support::DnsRecords& records,
                      const std::string& probe, std::string& error) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (!dns.start(records, error)) return false;
    auto resolver = mailauth::make_resolver({{dns.address()}}, error);
    if (!resolver) return false;
    auto answer = resolver->query(probe, mailauth::RrType::txt,
                                  std::chrono::steady_clock::now() + std::chrono::seconds(3));
    if (answer.status == mailauth::DnsAnswer::Status::ok && !answer.records.empty()) return true;
    dns.stop();
  }
  error = "dnsmasq does not answer " + probe;
  return false;
}

inline std::string base64(const unsigned char* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  out.resize(
      size_t(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, int(size))));
  return out;
}

struct Key {
  std::string private_file;  // PEM (RSA), base64 of the raw 32 bytes (Ed25519, as dkimpy reads)
  std::string pem;           // PKCS#8 PEM (opendkim-testmsg)
  std::string txt;           // the DNS TXT record (RFC 6376 3.6.1; Ed25519: RFC 8463 4.2)
};

inline void write_file(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A new key in `dir`/`name`: Ed25519, or RSA of `bits`.
inline Key make_key(const std::string& dir, const std::string& name, bool ed25519,
                    size_t bits = 2048) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
              : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits),
      EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  Key made{dir + "/" + name, std::string(data, size_t(size)), ""};
  if (ed25519) {
    unsigned char raw[32];
    size_t length = sizeof raw;
    EVP_PKEY_get_raw_private_key(key.get(), raw, &length);
    write_file(made.private_file, base64(raw, length));
    length = sizeof raw;
    EVP_PKEY_get_raw_public_key(key.get(), raw, &length);
    made.txt = "v=DKIM1; k=ed25519; p=" + base64(raw, length);
  } else {
    write_file(made.private_file, made.pem);
    unsigned char* der = nullptr;
    int length = i2d_PUBKEY(key.get(), &der);
    made.txt = "v=DKIM1; k=rsa; p=" + base64(der, size_t(length));
    OPENSSL_free(der);
  }
  return made;
}

// The output of `command` (empty when it failed).
inline std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  size_t got = 0;
  while ((got = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, got);
  return pclose(pipe) == 0 ? out : std::string();
}

// `message` with a dkimpy signature on top.
inline std::string dkimpy_sign(const std::string& dir, const std::string& message,
                               const std::string& selector, const std::string& domain,
                               const Key& key, const std::string& algorithm,
                               const std::string& canon, bool length = false) {
  std::string file = dir + "/to_sign.eml";
  write_file(file, message);
  return run("/usr/bin/python3 " SMTP_BRIDGE_SOURCE_DIR "/tests/unit/mailauth/dkim/dkim_sign.py " +
             file + " " + selector + " " + domain + " " + key.private_file + " " + algorithm + " " +
             canon + " " + (length ? "1" : "0"));
}

// `message` signed by OpenDKIM's opendkim-testmsg (opendkim-tools): rsa-sha1, relaxed/simple,
// the only signature it makes.
inline std::string opendkim_sign(const std::string& dir, const std::string& message,
                                 const std::string& selector, const std::string& domain,
                                 const Key& key) {
  std::string file = dir + "/to_sign.eml", pem = dir + "/testmsg.pem";
  write_file(file, message);
  write_file(pem, key.pem);
  return run("/usr/sbin/opendkim-testmsg -C -d " + domain + " -s " + selector + " -k " + pem +
             " < " + file);
}

// `message` signed by libopendkim itself (rsa-sha256, relaxed/relaxed) with its clock fixed at
// `when` (t=) and, when `ttl` is not 0, x= that many seconds later: signatures out of date.
inline std::string libopendkim_sign(const std::string& message, const std::string& selector,
                                    const std::string& domain, const Key& key, uint64_t when,
                                    uint64_t ttl) {
  DKIM_LIB* lib = dkim_init(nullptr, nullptr);
  if (!lib) return "";
  dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &when, sizeof when);
  if (ttl) dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNATURETTL, &ttl, sizeof ttl);
  auto u = [](const std::string& s) {
    return reinterpret_cast<unsigned char*>(const_cast<char*>(s.c_str()));
  };
  DKIM_STAT status = DKIM_STAT_OK;
  DKIM* dkim = dkim_sign(lib, u("test"), nullptr, u(key.pem), u(selector), u(domain),
                         DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &status);
  std::string header;
  if (dkim) {
    auto* bytes = u(message);
    unsigned char* value = nullptr;
    size_t length = 0;
    if (dkim_chunk(dkim, bytes, message.size()) == DKIM_STAT_OK &&
        dkim_chunk(dkim, nullptr, 0) == DKIM_STAT_OK && dkim_eom(dkim, nullptr) == DKIM_STAT_OK &&
        dkim_getsighdr_d(dkim, sizeof DKIM_SIGNHEADER + 1, &value, &length) == DKIM_STAT_OK) {
      header = DKIM_SIGNHEADER ": ";
      for (size_t i = 0; i < length; ++i) {  // libopendkim folds with bare LF
        if (value[i] == '\n') header += '\r';
        header += char(value[i]);
      }
      header += "\r\n";
    }
    dkim_free(dkim);
  }
  dkim_close(lib);
  return header.empty() ? "" : header + message;
}

}  // namespace test_dkim
