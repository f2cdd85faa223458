// The one translation unit that compiles Asio's implementation (ASIO_SEPARATE_COMPILATION):
// everything else includes only Asio's declarations, which keeps 2-core builds tolerable.
#include <asio/impl/src.hpp>
#include <asio/ssl/impl/src.hpp>
