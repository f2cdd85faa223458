// The server-side TLS context for STARTTLS (RFC 3207) and implicit TLS (RFC 8314), built once
// per Server from smtp.tls, and the certificate reload: a changed cert/key pair on disk is
// served to new handshakes without a restart. Internal to src/smtp/ (includes Asio's SSL headers).
#pragma once
#include <sys/stat.h>

#include <asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/config.h"

namespace smtp {

// A certificate chain and its private key, loaded from PEM files and checked to match.
struct KeyPair;

// One ssl::context for the server's lifetime whose certificate can be replaced: every new
// handshake takes the pair current at that moment (OpenSSL's certificate callback sets it on
// the connection), while connections already open keep the one they were handshaken with.
class TlsContext {
 public:
  enum class Reload { unchanged, reloaded, failed };

  // TLS 1.2 minimum, the configured certificate chain and key (checked to match). Without a
  // configured certificate the context is still created (never used for handshakes), so that
  // every connection can own an ssl::stream. nullptr and `error` set when the files are unusable.
  static std::unique_ptr<TlsContext> create(const config::TlsFiles& files, std::string& error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  asio::ssl::context& context() { return *context_; }
  bool enabled() const { return files_.enabled(); }
  // Compares the files' identity (inode, size, mtime) with the last look and, when either
  // changed, loads the pair. A pair that does not load or match is not used (failed, `error`
  // set); the previous one stays in service. Blocking file I/O: not for the io threads.
  Reload reload_if_changed(std::string& error);
  // The current certificate's notAfter as Unix seconds; 0 without a certificate.
  double not_after() const;

 private:
  struct FileStamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec modified{};
    bool operator==(const FileStamp& other) const;
  };
  struct Stamps {
    std::optional<FileStamp> cert;
    std::optional<FileStamp> key;
    bool operator==(const Stamps& other) const = default;
  };

  TlsContext(config::TlsFiles files, std::unique_ptr<asio::ssl::context> context);
  Stamps stamp_files() const;
  std::shared_ptr<const KeyPair> current() const;
  static int select_certificate(SSL* ssl, void* self);

  const config::TlsFiles files_;
  std::unique_ptr<asio::ssl::context> context_;
  Stamps seen_;  // used by reload_if_changed's single caller only
  mutable std::mutex mutex_;
  std::shared_ptr<const KeyPair> pair_;  // guarded by mutex_
};

}  // namespace smtp
