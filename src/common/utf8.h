// UTF-8 well-formedness (RFC 3629), shared by the SMTP server (SMTPUTF8 commands, SASL) and the
// mail authentication checks (domains a sender wrote).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace common {

// True if every byte sequence is valid UTF-8 (RFC 3629), no overlongs or surrogates.
bool valid_utf8(std::string_view text);

// Appends the UTF-8 of one Unicode scalar value (the caller has checked it: <= U+10FFFF, no
// surrogate).
void append_utf8(std::string& out, uint32_t code_point);

}  // namespace common
