// The server ssl::context: TLS 1.2+ (RFC 8996 deprecates 1.0/1.1), no compression, no
// renegotiation, server cipher preference, and a certificate callback that hands each new
// handshake the current certificate chain + key. Promise: a pair in service always has a key
// matching its certificate; a bad pair on disk is refused and the previous one kept.
#include "smtp/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ctime>

namespace smtp {

struct KeyPair {
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  STACK_OF(X509) * chain = nullptr;  // the intermediates after the leaf in cert_file
  double not_after = 0;

  KeyPair() = default;
  KeyPair(const KeyPair&) = delete;
  KeyPair& operator=(const KeyPair&) = delete;
  ~KeyPair() {
    X509_free(cert);
    EVP_PKEY_free(key);
    sk_X509_pop_free(chain, X509_free);
  }
};

namespace {

// OpenSSL's queued errors as one line (and the queue cleared, so no later caller sees them).
std::string openssl_errors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text += text.empty() ? " (" : "; ";
    text += buffer;
  }
  if (!text.empty()) text += ")";
  return text;
}

// An encrypted key is an error, never a prompt on the terminal.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

double unix_seconds(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return 0;
  return static_cast<double>(timegm(&tm));
}

// Reads the leaf, its chain and the key from PEM files, as SSL_CTX_use_certificate_chain_file
// and SSL_CTX_use_PrivateKey_file would, and checks that they belong together.
std::shared_ptr<const KeyPair> load_pair(const config::TlsFiles& files, std::string& error) {
  ERR_clear_error();
  auto pair = std::make_shared<KeyPair>();
  BIO* cert_bio = BIO_new_file(files.cert_file.c_str(), "r");
  if (cert_bio == nullptr) {
    error = "cannot read certificate " + files.cert_file + openssl_errors();
    return nullptr;
  }
  pair->cert = PEM_read_bio_X509_AUX(cert_bio, nullptr, no_passphrase, nullptr);
  pair->chain = sk_X509_new_null();
  while (pair->cert != nullptr) {
    X509* extra = PEM_read_bio_X509(cert_bio, nullptr, no_passphrase, nullptr);
    if (extra == nullptr) break;
    sk_X509_push(pair->chain, extra);
  }
  BIO_free(cert_bio);
  if (pair->cert == nullptr) {
    error = "cannot load certificate " + files.cert_file + openssl_errors();
    return nullptr;
  }
  ERR_clear_error();  // the end of the chain reads as "no start line"
  BIO* key_bio = BIO_new_file(files.key_file.c_str(), "r");
  if (key_bio == nullptr) {
    error = "cannot read private key " + files.key_file + openssl_errors();
    return nullptr;
  }
  pair->key = PEM_read_bio_PrivateKey(key_bio, nullptr, no_passphrase, nullptr);
  BIO_free(key_bio);
  if (pair->key == nullptr) {
    error = "cannot load private key " + files.key_file + openssl_errors();
    return nullptr;
  }
  if (X509_check_private_key(pair->cert, pair->key) != 1) {
    ERR_clear_error();
    error = "private key " + files.key_file + " does not match certificate " + files.cert_file;
    return nullptr;
  }
  pair->not_after = unix_seconds(X509_get0_notAfter(pair->cert));
  return pair;
}

}  // namespace

bool TlsContext::FileStamp::operator==(const FileStamp& other) const {
  return device == other.device && inode == other.inode && size == other.size &&
         modified.tv_sec == other.modified.tv_sec && modified.tv_nsec == other.modified.tv_nsec;
}

TlsContext::TlsContext(config::TlsFiles files, std::unique_ptr<asio::ssl::context> context)
    : files_(std::move(files)), context_(std::move(context)) {}

TlsContext::~TlsContext() = default;

std::unique_ptr<TlsContext> TlsContext::create(const config::TlsFiles& files, std::string& error) {
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use |
                       asio::ssl::context::no_compression);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  std::unique_ptr<TlsContext> tls(new TlsContext(files, std::move(context)));
  if (!files.enabled()) return tls;

  tls->seen_ = tls->stamp_files();  // before loading: a change during the load is seen later
  std::shared_ptr<const KeyPair> pair = load_pair(files, error);
  if (!pair) return nullptr;
  if (SSL_CTX_use_cert_and_key(native, pair->cert, pair->key, pair->chain, 1) != 1) {
    error = "cannot use certificate " + files.cert_file + openssl_errors();
    return nullptr;
  }
  tls->pair_ = std::move(pair);
  // The context itself is never modified again (connections are created from it on other
  // threads); a reloaded pair reaches new handshakes through this callback.
  SSL_CTX_set_cert_cb(native, &TlsContext::select_certificate, tls.get());
  return tls;
}

int TlsContext::select_certificate(SSL* ssl, void* self) {
  std::shared_ptr<const KeyPair> pair = static_cast<TlsContext*>(self)->current();
  if (!pair) return 1;
  // Drop what the connection copied from the context first, so that a new key of another type
  // (RSA → ECDSA) cannot leave the old certificate selectable beside it.
  SSL_certs_clear(ssl);
  return SSL_use_cert_and_key(ssl, pair->cert, pair->key, pair->chain, 1) == 1 ? 1 : 0;
}

std::shared_ptr<const KeyPair> TlsContext::current() const {
  std::lock_guard lock(mutex_);
  return pair_;
}

TlsContext::Stamps TlsContext::stamp_files() const {
  auto stamp = [](const std::string& path) -> std::optional<FileStamp> {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return std::nullopt;  // follows Secret symlinks
    return FileStamp{info.st_dev, info.st_ino, info.st_size, info.st_mtim};
  };
  return Stamps{stamp(files_.cert_file), stamp(files_.key_file)};
}

TlsContext::Reload TlsContext::reload_if_changed(std::string& error) {
  if (!files_.enabled()) return Reload::unchanged;
  Stamps now = stamp_files();
  if (now == seen_) return Reload::unchanged;
  seen_ = now;  // a bad pair is tried once, then again only when a file changes again
  std::shared_ptr<const KeyPair> pair = load_pair(files_, error);
  if (!pair) return Reload::failed;
  std::lock_guard lock(mutex_);
  pair_ = std::move(pair);
  return Reload::reloaded;
}

double TlsContext::not_after() const {
  std::shared_ptr<const KeyPair> pair = current();
  return pair ? pair->not_after : 0;
}

}  // namespace smtp
