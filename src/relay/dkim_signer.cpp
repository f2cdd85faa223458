// DkimSigner (dkim_signer.h): one DKIM_LIB for the signer's life, one libopendkim signing handle
// per key and message. The canonicalisation and the signature are libopendkim's; this file only
// chooses the keys, keeps them fresh, and puts the resulting header fields above the message.
#include "relay/dkim_signer.h"

// dkim.h is C99: its _Bool is C++'s bool (the same ABI on every Debian target).
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "config/dkim_key.h"
#include "config/secret_file.h"
#include "obs/log.h"

namespace relay {

namespace {

// RFC 6376 5.4.1's recommended header fields, plus Message-ID and the MIME fields, whose change
// would alter what the reader sees (OpenDKIM's own default signs them too). libopendkim signs
// each one present, every instance, bottom-up (RFC 6376 5.4.2).
// clang-format off
const char* kSignHeaders[] = {
    "from", "reply-to", "subject", "date", "to", "cc", "resent-date", "resent-from", "resent-to",
    "resent-cc", "in-reply-to", "references", "list-id", "list-help", "list-unsubscribe",
    "list-subscribe", "list-post", "list-owner", "list-archive",
    "message-id", "mime-version", "content-type", "content-transfer-encoding", nullptr};
// clang-format on
// Named in h= once more than present (RFC 6376 8.15): a From added later breaks the signature.
const char* kOversignHeaders[] = {"from", nullptr};

constexpr auto kRecheck = std::chrono::seconds(1);

struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = -1;
  int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

std::optional<FileIdentity> identify(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileIdentity{st.st_dev, st.st_ino, st.st_size,
                      int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return text;
}

// libopendkim 2.11.0's dkim_free() releases a signing handle's key material only when the
// signature's key type is RSA: after an Ed25519 signature its EVP_PKEY and its 64-byte output
// buffer stay allocated (about 470 bytes a message; LeakSanitizer in relay_dkim_test). Each
// handle's allocations therefore go through an Arena (dkim_init's allocator, the handle's memory
// closure), so that those two can be found and released around dkim_free().
struct Arena {
  std::unordered_map<void*, size_t> blocks;  // live allocations of one handle
  void* leaked_out = nullptr;                // the Ed25519 output buffer to free after dkim_free
};

void* arena_malloc(void* closure, size_t size) {
  void* block = std::malloc(size);
  if (closure && block) static_cast<Arena*>(closure)->blocks.insert_or_assign(block, size);
  return block;
}

void arena_free(void* closure, void* block) {
  if (closure) static_cast<Arena*>(closure)->blocks.erase(block);
  std::free(block);
}

// struct dkim_crypto of libopendkim 2.11 built with OpenSSL (libopendkim/dkim-types.h).
struct CryptoMirror {
  unsigned char pad;
  int keysize;
  size_t inlen, outlen;
  EVP_PKEY* pkey;
  void* key;
  void* keydata;
  unsigned char* in;
  unsigned char* out;
};
static_assert(sizeof(CryptoMirror) == 64);

// Before dkim_free() of an Ed25519 handle: finds its one dkim_crypto (an Ed25519 key: keysize
// 512 bits, outlen 64, `out` another live 64-byte block of the handle) and frees its EVP_PKEY.
// Does nothing unless exactly one block matches and the key is an Ed25519 one.
void release_ed25519_key(Arena& arena) {
  if (dkim_libversion() != 0x020B0000) return;  // the release whose dkim_free() leaks
  void* found = nullptr;
  CryptoMirror crypto{};
  int matches = 0;
  for (const auto& [block, size] : arena.blocks) {
    if (size != sizeof(CryptoMirror)) continue;
    CryptoMirror candidate;
    std::memcpy(&candidate, block, sizeof candidate);
    auto out = arena.blocks.find(candidate.out);
    if (candidate.keysize == 512 && candidate.outlen == 64 && candidate.pkey &&
        candidate.out != block && out != arena.blocks.end() && out->second == 64) {
      found = block;
      crypto = candidate;
      ++matches;
    }
  }
  if (matches != 1 || EVP_PKEY_get_base_id(crypto.pkey) != EVP_PKEY_ED25519) return;
  EVP_PKEY_free(crypto.pkey);
  crypto.pkey = nullptr;
  std::memcpy(found, &crypto, sizeof crypto);
  arena.leaked_out = crypto.out;
}

// One configured key and the last good contents of its file.
struct KeySlot {
  config::DkimKey config;
  std::mutex mutex;  // guards the fields below
  std::string pem, algorithm;
  std::optional<FileIdentity> seen;  // the file state last looked at (good or not)
  std::chrono::steady_clock::time_point checked;

  // Re-reads the file when it changed since it was last looked at; logs a bad one once.
  void refresh(std::chrono::steady_clock::time_point now, bool force) {
    if (!force && now - checked < kRecheck) return;
    checked = now;
    auto identity = identify(config.key_file);
    if (!force && identity == seen) return;
    seen = identity;
    std::string reason;
    auto text = config::read_secret_file(config.key_file, reason);
    auto info = text ? config::inspect_dkim_key(*text, reason) : std::nullopt;
    if (!info) {
      obs::warn(pem.empty() ? "relay: DKIM key file is not usable; the key signs nothing"
                            : "relay: DKIM key file is not usable; signing with the last good key",
                {{"domain", config.domain},
                 {"selector", config.selector},
                 {"file", config.key_file},
                 {"reason", reason}});
      return;
    }
    if (!pem.empty()) {
      obs::info("relay: DKIM key file changed; signing with the new key",
                {{"domain", config.domain},
                 {"selector", config.selector},
                 {"algorithm", info->algorithm}});
    }
    pem = std::move(info->pem);
    algorithm = std::move(info->algorithm);
  }
};

// The unfolded value of the one From field in the header section; nullopt when none or several.
std::optional<std::string> from_field(std::string_view message) {
  std::optional<std::string> value;
  bool in_from = false;
  size_t pos = 0;
  while (pos < message.size()) {
    size_t end = message.find('\n', pos);
    std::string_view line =
        message.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? message.size() : end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header section
    if (line.front() == ' ' || line.front() == '\t') {
      if (in_from) value->append(line);
      continue;
    }
    in_from = false;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (lower(std::string(name)) != "from") continue;
    if (value) return std::nullopt;  // RFC 5322 3.6: exactly one From
    value.emplace(line.substr(colon + 1));
    in_from = true;
  }
  return value;
}

}  // namespace

struct DkimSigner::Impl {
  DKIM_LIB* lib = nullptr;
  Clock now;
  std::vector<std::unique_ptr<KeySlot>> slots;

  // One signature of `message` with `slot`'s key: the header field, or "" + error.
  std::string sign_one(KeySlot& slot, std::string_view message, DkimSignature& made,
                       std::string& error);
};

DkimSigner::DkimSigner(std::vector<config::DkimKey> keys, Clock now)
    : impl_(std::make_unique<Impl>()) {
  impl_->now = now ? std::move(now) : [] { return std::chrono::steady_clock::now(); };
  impl_->lib = dkim_init(arena_malloc, arena_free);
  if (impl_->lib) {
    dkim_options(impl_->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, kSignHeaders,
                 sizeof(const char**));
    dkim_options(impl_->lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, kOversignHeaders,
                 sizeof(const char**));
  } else {
    obs::error("relay: libopendkim did not start; outbound mail is sent unsigned");
  }
  for (auto& key : keys) {
    auto slot = std::make_unique<KeySlot>();
    slot->config = std::move(key);
    slot->refresh(impl_->now(), true);
    impl_->slots.push_back(std::move(slot));
  }
}

DkimSigner::~DkimSigner() {
  if (impl_->lib) dkim_close(impl_->lib);
}

std::string DkimSigner::from_domain(std::string_view message) {
  auto field = from_field(message);
  if (!field) return "";
  std::vector<unsigned char> text(field->begin(), field->end());
  text.push_back('\0');
  unsigned char *user = nullptr, *domain = nullptr;
  // libopendkim's RFC 5322 address parser: comments, quoted strings, angle brackets.
  if (dkim_mail_parse(text.data(), &user, &domain) != 0 || !domain || !*domain) return "";
  return lower(reinterpret_cast<const char*>(domain));
}

std::string DkimSigner::Impl::sign_one(KeySlot& slot, std::string_view message, DkimSignature& made,
                                       std::string& error) {
  std::string pem;
  {
    std::lock_guard lock(slot.mutex);
    slot.refresh(now(), false);
    pem = slot.pem;
    made = {slot.config.domain, slot.config.selector, slot.algorithm};
  }
  if (pem.empty()) {
    error = "no usable key in '" + slot.config.key_file + "'";
    return "";
  }
  auto u = [](const std::string& s) {
    return reinterpret_cast<unsigned char*>(const_cast<char*>(s.c_str()));
  };
  DKIM_STAT status = DKIM_STAT_OK;
  const bool ed25519 = made.algorithm == "ed25519-sha256";
  Arena arena;  // the handle's allocations (release_ed25519_key)
  DKIM* dkim = dkim_sign(lib, u(made.domain), &arena, u(pem), u(made.selector), u(made.domain),
                         DKIM_CANON_RELAXED, DKIM_CANON_RELAXED,
                         ed25519 ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256, -1, &status);
  std::string header;
  if (dkim) {
    auto* bytes = reinterpret_cast<unsigned char*>(const_cast<char*>(message.data()));
    if (status == DKIM_STAT_OK) status = dkim_chunk(dkim, bytes, message.size());
    if (status == DKIM_STAT_OK) status = dkim_chunk(dkim, nullptr, 0);
    if (status == DKIM_STAT_OK) status = dkim_eom(dkim, nullptr);
    unsigned char* value = nullptr;
    size_t length = 0;
    const size_t prefix = std::strlen(DKIM_SIGNHEADER ": ");
    if (status == DKIM_STAT_OK) status = dkim_getsighdr_d(dkim, prefix, &value, &length);
    if (status == DKIM_STAT_OK) {
      // libopendkim folds with bare LF; the message's lines end in CRLF (RFC 5322 2.2.3).
      header = DKIM_SIGNHEADER ": ";
      for (size_t i = 0; i < length; ++i) {
        if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) header += '\r';
        header += char(value[i]);
      }
      header += "\r\n";
    } else {
      const char* why = dkim_geterror(dkim);
      error = std::string(dkim_getresultstr(status)) + (why && *why ? std::string(": ") + why : "");
    }
    if (ed25519) release_ed25519_key(arena);
    dkim_free(dkim);
    if (arena.leaked_out && arena.blocks.count(arena.leaked_out))
      arena_free(&arena, arena.leaked_out);
  } else {
    error = dkim_getresultstr(status);
  }
  return header;
}

DkimResult DkimSigner::sign(std::string_view message) {
  DkimResult result;
  if (impl_->slots.empty()) return result;
  std::string domain = from_domain(message);
  if (domain.empty()) return result;
  for (auto& slot : impl_->slots) {
    if (slot->config.domain != domain) continue;
    if (!impl_->lib) {
      result.error = "libopendkim did not start";
      continue;
    }
    DkimSignature made;
    std::string error;
    std::string header = impl_->sign_one(*slot, message, made, error);
    if (header.empty()) {
      result.error = made.selector + "._domainkey." + made.domain + ": " + error;
      continue;
    }
    result.headers += header;
    result.made.push_back(std::move(made));
  }
  result.status = !result.made.empty()    ? DkimResult::Status::signed_message
                  : !result.error.empty() ? DkimResult::Status::error
                                          : DkimResult::Status::no_key;
  return result;
}

}  // namespace relay
