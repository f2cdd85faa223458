// Internal to the bridge.v1 rendering (payload.cpp), not part of the interface: large byte strings
// rendered as base64 ("content", "raw") sit in the json tree as placeholder strings and are encoded
// straight into the serialised text afterwards, so nlohmann never escapes them byte by byte.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/payload.h"

namespace delivery::detail {

class Splices {
 public:
  explicit Splices(std::string_view token) : token_(token) {}
  // A placeholder for the base64 of `bytes`, kept here (moved in) or borrowed (`bytes` must then
  // outlive splice()).
  std::string add_owned(std::string bytes);
  std::string add_borrowed(std::string_view bytes);
  // `dumped` with every placeholder string replaced by the base64 of its bytes. nullopt unless
  // each placeholder is found exactly once as a whole JSON string and the token occurs nowhere
  // else (message text containing it): the caller then renders the plain way.
  std::optional<std::string> splice(std::string_view dumped) const;
  bool empty() const { return items_.empty(); }

 private:
  struct Item {
    int owned = -1;  // index into owned_, or -1 for `borrowed`
    std::string_view borrowed;
  };
  std::string_view bytes(const Item& item) const;
  std::string placeholder(size_t index) const;

  std::string token_;
  std::vector<std::string> owned_;
  std::vector<Item> items_;
};

// The placeholder token of this process: random, never part of any output.
const std::string& splice_token();

// The whole document; with `splices`, base64 strings are placeholders registered there.
nlohmann::json render_document(const InboundView& message, const RenderOptions& options, Splices* splices);

// render_bridge_v1_text with an explicit token (tests force collisions with message text).
std::string render_text_spliced(const InboundView& message, const RenderOptions& options, std::string_view token);

}  // namespace delivery::detail
