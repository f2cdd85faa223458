// Placeholder splicing for the bridge.v1 text (payload_splice.h): finds each placeholder string in
// the dumped document exactly once and writes base64 there (base64 never needs JSON escaping, RFC
// 8259 7), or reports failure so that the caller falls back to plain nlohmann rendering.
#include "delivery/payload_splice.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <random>

#include "common/base64.h"

namespace delivery::detail {

std::string Splices::placeholder(size_t index) const { return token_ + std::to_string(index); }

std::string Splices::add_owned(std::string bytes) {
  owned_.push_back(std::move(bytes));
  items_.push_back({static_cast<int>(owned_.size() - 1), {}});
  return placeholder(items_.size() - 1);
}

std::string Splices::add_borrowed(std::string_view bytes) {
  items_.push_back({-1, bytes});
  return placeholder(items_.size() - 1);
}

std::string_view Splices::bytes(const Item& item) const {
  return item.owned >= 0 ? std::string_view(owned_[item.owned]) : item.borrowed;
}

std::optional<std::string> Splices::splice(std::string_view dumped) const {
  struct Found {
    size_t begin = 0;  // first character of the token (after the opening quote)
    size_t end = 0;    // the closing quote
    size_t item = 0;
  };
  std::vector<Found> found;
  std::vector<bool> seen(items_.size(), false);
  // Skips ahead by up to the token's length: plain find() stalls on each of its first character.
  const std::boyer_moore_horspool_searcher searcher(token_.begin(), token_.end());
  auto next = [&](size_t from) {
    auto hit = std::search(dumped.begin() + from, dumped.end(), searcher);
    return hit == dumped.end() ? std::string_view::npos : static_cast<size_t>(hit - dumped.begin());
  };
  size_t pos = 0;
  while ((pos = next(pos)) != std::string_view::npos) {
    if (found.size() == items_.size() || pos == 0 || dumped[pos - 1] != '"') return std::nullopt;
    size_t end = pos + token_.size();
    size_t index = 0;
    while (end < dumped.size() && dumped[end] >= '0' && dumped[end] <= '9' && index < items_.size())
      index = index * 10 + static_cast<size_t>(dumped[end++] - '0');
    bool digits = end > pos + token_.size() && end - (pos + token_.size()) <= 20;
    if (!digits || end >= dumped.size() || dumped[end] != '"' || index >= items_.size() || seen[index])
      return std::nullopt;
    if (placeholder(index) != dumped.substr(pos, end - pos)) return std::nullopt;  // no leading 0s
    seen[index] = true;
    found.push_back({pos, end, index});
    pos = end;
  }
  if (found.size() != items_.size()) return std::nullopt;
  size_t size = dumped.size();
  for (const Found& f : found) size = size - (f.end - f.begin) + common::base64_encoded_size(bytes(items_[f.item]).size());
  std::string out(size, '\0');
  char* o = out.data();
  size_t copied = 0;
  for (const Found& f : found) {  // in text order: find() moves forward
    std::memcpy(o, dumped.data() + copied, f.begin - copied);
    o = common::base64_encode_to(bytes(items_[f.item]), o + (f.begin - copied));
    copied = f.end;
  }
  std::memcpy(o, dumped.data() + copied, dumped.size() - copied);
  return out;
}

const std::string& splice_token() {
  static const std::string token = [] {
    std::random_device device;
    std::string text = "bridge-v1-splice-";
    static const char* hex = "0123456789abcdef";
    for (int i = 0; i < 8; ++i) {
      uint32_t word = device();
      for (int k = 0; k < 8; ++k, word >>= 4) text += hex[word & 15];
    }
    return text + "-";
  }();
  return token;
}

}  // namespace delivery::detail
