// Builds the server ssl::context once: TLS 1.2+ (RFC 8996 deprecates 1.0/1.1), no compression,
// no renegotiation, server cipher preference, certificate chain + private key from PEM files.
// Promise: a returned context has a key matching its certificate when TLS is configured.
#include "smtp/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace smtp {

namespace {
std::string openssl_error(const std::string& what, const asio::error_code& ec) {
  std::string text = what + ": " + ec.message();
  if (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text += " (" + std::string(buffer) + ")";
  }
  ERR_clear_error();
  return text;
}
}  // namespace

std::unique_ptr<asio::ssl::context> make_tls_context(const config::TlsFiles& files,
                                                     std::string& error) {
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use |
                       asio::ssl::context::no_compression);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  if (!files.enabled()) return context;

  asio::error_code ec;
  context->use_certificate_chain_file(files.cert_file, ec);
  if (ec) {
    error = openssl_error("cannot load certificate " + files.cert_file, ec);
    return nullptr;
  }
  context->use_private_key_file(files.key_file, asio::ssl::context::pem, ec);
  if (ec) {
    error = openssl_error("cannot load private key " + files.key_file, ec);
    return nullptr;
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    error = "private key " + files.key_file + " does not match certificate " + files.cert_file;
    return nullptr;
  }
  return context;
}

}  // namespace smtp
