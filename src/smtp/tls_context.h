// The server-side TLS context for STARTTLS (RFC 3207) and implicit TLS (RFC 8314), built once
// per Server from smtp.tls. Internal to src/smtp/ (includes Asio's SSL headers).
#pragma once
#include <asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "config/config.h"

namespace smtp {

// TLS 1.2 minimum, the configured certificate chain and key (checked to match). Without a
// configured certificate the context is still created (never used for handshakes), so that
// every connection can own an ssl::stream. nullptr and `error` set when the files are unusable.
std::unique_ptr<asio::ssl::context> make_tls_context(const config::TlsFiles& files,
                                                     std::string& error);

}  // namespace smtp
