// Asio configuration shared by every src/smtp/ translation unit; include it before any Asio
// header. Promise: all of them agree with src/common/asio_impl.cpp on how Asio allocates.
#pragma once

// Asio's allocation choice (ASIO_DISABLE_STD_ALIGNED_ALLOC) is pinned for every translation
// unit by the asio_impl target in CMakeLists.txt; see there.

// g++ 12 reports a false -Wmismatched-new-delete for Asio's awaitable frames (their
// operator new/delete pair is correct).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
