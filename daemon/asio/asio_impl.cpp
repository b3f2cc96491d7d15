// Asio and Beast are header-only by default; with *_SEPARATE_COMPILATION (set on
// every daemon module, daemon/CMakeLists.txt) their implementation is compiled here, once, instead of in every
// translation unit that uses them.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
